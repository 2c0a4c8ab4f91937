use super::*;
use clap::Parser;

fn parse(args: &[&str]) -> Result<Invocation, UsageError> {
    let mut argv = vec!["self-heal"];
    argv.extend_from_slice(args);
    plan(Cli::try_parse_from(argv).expect("clap accepts"), false)
}

fn run(args: &[&str]) -> RunPlan {
    match parse(args) {
        Ok(Invocation::Run(p)) => p,
        other => panic!("expected a run plan, got {other:?}"),
    }
}

#[test]
fn no_subcommand_means_heal_with_positionals() {
    let p = run(&["sandfly-mcp-server", "connect ECONNREFUSED", "http://sandfly-mcp-server:3000/mcp"]);
    assert_eq!(p.command, Command::Heal);
    assert_eq!(p.service, "sandfly-mcp-server");
    assert_eq!(p.error.as_deref(), Some("connect ECONNREFUSED"));
    assert_eq!(p.url.as_ref().map(|u| u.port()), Some(Some(3000)));
    assert_eq!(p.namespace, DEFAULT_NAMESPACE);
    assert_eq!(p.output, OutputMode::Ndjson);
    assert_eq!(p.timeout, Duration::from_secs(110));
    assert_eq!(p.probe, ProbeKind::Http);
    assert_eq!(p.max_remediations, 3);
    assert_eq!(p.breaker_window, Duration::from_secs(600));
    assert!(!p.allow_rollback && !p.dry_run);
}

#[test]
fn subcommands_and_options_anywhere() {
    let p = run(&["diagnose", "svc", "-n", "prod", "--probe", "mcp", "-o", "legacy", "-vv", "--allow", "rollback"]);
    assert_eq!(p.command, Command::Diagnose);
    assert_eq!(p.namespace, "prod");
    assert_eq!(p.probe, ProbeKind::Mcp);
    assert_eq!(p.output, OutputMode::Legacy);
    assert_eq!(p.verbosity, 2);
    assert!(p.allow_rollback);
    let p = run(&["--dry-run", "--timeout", "2m", "verify", "svc", "--port", "8080", "--health-path", "/healthz"]);
    assert_eq!(p.command, Command::Verify);
    assert!(p.dry_run);
    assert_eq!(p.timeout, Duration::from_secs(120));
    assert_eq!((p.port, p.health_path.as_deref()), (Some(8080), Some("/healthz")));
    assert_eq!(run(&["-q", "remediate", "svc"]).verbosity, -1);
}

#[test]
fn tty_defaults_to_human() {
    let cli = Cli::try_parse_from(["self-heal", "svc"]).unwrap();
    let Ok(Invocation::Run(p)) = plan(cli, true) else { panic!() };
    assert_eq!(p.output, OutputMode::Human);
}

#[test]
fn namespace_from_url_host() {
    for (url, ns) in [
        ("http://svc.team-a.svc.cluster.local:3000/mcp", "team-a"),
        ("http://svc.team-b.svc:3000", "team-b"),
        ("http://svc.team-c:3000", "team-c"),
        ("http://other.team-d.svc", "team-d"),
        ("http://example.com/x", DEFAULT_NAMESPACE),
        ("http://127.0.0.1:9/", DEFAULT_NAMESPACE),
        ("http://svc:3000/", DEFAULT_NAMESPACE),
    ] {
        assert_eq!(run(&["svc", "err", url]).namespace, ns, "{url}");
    }
    // The flag wins over the URL.
    assert_eq!(run(&["-n", "x", "svc", "err", "http://svc.team-a.svc"]).namespace, "x");
}

#[test]
fn bad_arguments_are_usage_errors() {
    for bad in ["Upper", "../x", "a;rm -rf /", &"a".repeat(64), ""] {
        let err = parse(&[bad]).unwrap_err();
        assert!(matches!(err, UsageError::Name(_)), "{bad:?}: {err}");
    }
    assert!(parse(&["-n", "Bad_NS", "svc"]).unwrap_err().to_string().contains("namespace"));
    let err = parse(&["svc", "e", "not a url"]).unwrap_err().to_string();
    assert!(err.contains("not a valid URL"), "{err}");
    assert!(parse(&["svc", "--health-path", "healthz"]).unwrap_err().to_string().contains("must be an absolute path"));
    for escaping in ["/../../api/v1/secrets", "/a/./b", "/x?y=/..", "/%2E%2E/secrets", "/a b", "/a#b", "/a\\b"] {
        assert!(parse(&["svc", "--health-path", escaping]).is_err(), "{escaping:?} must be refused");
    }
    for escaping in ["/..%2f..%2fapi", "/..;/secrets", "/a/..;x/b", "/%2e%2e/x", "/a%5cb", "/%252e%252e/x"] {
        assert!(parse(&["svc", "--health-path", escaping]).is_err(), "{escaping:?} must be refused");
        // In a URL: refused, or normalized by the URL parser into a path that stays below.
        let url = format!("http://svc.ns.svc{escaping}");
        match parse(&["svc", "e", &url]) {
            Err(e) => assert!(e.to_string().contains("its path must stay below the service"), "{url}: {e}"),
            Ok(Invocation::Run(p)) => {
                let path = p.url.unwrap().path().to_string();
                assert!(is_safe_path(&path) && !path.contains(".."), "{url} became {path}");
            }
            Ok(other) => panic!("{other:?}"),
        }
    }
    for escaping in ["/..%2f..%2fapi", "/..;/secrets"] {
        let err = parse(&["svc", "e", &format!("http://svc.ns.svc{escaping}")]).unwrap_err().to_string();
        assert!(err.contains("its path must stay below the service"), "{escaping}: {err}");
    }
    // Credentials in a URL are dropped: never sent, never shown.
    let p = run(&["svc", "e", "http://admin:hunter2@svc.ns.svc/mcp"]);
    assert_eq!(p.url.unwrap().as_str(), "http://svc.ns.svc/mcp");
    // Set-based selectors cannot select a Service's pods: refused before connecting.
    for set_based in ["app in (a,b)", "tier!=db", "!app"] {
        assert!(matches!(parse(&["svc", "--selector", set_based]), Err(UsageError::Selector { .. })), "{set_based}");
    }
    for fine in ["/", "/healthz", "/api/health?full=1", "/v1.2/status"] {
        assert!(parse(&["svc", "--health-path", fine]).is_ok(), "{fine:?} is fine");
    }
    assert!(matches!(parse(&["svc", "--selector", "app in x"]), Err(UsageError::Selector { .. })));
    assert!(Cli::try_parse_from(["self-heal", "svc", "--timeout", "soon"]).is_err());
    assert!(Cli::try_parse_from(["self-heal", "svc", "--timeout", "0s"]).is_err());
    for too_long in ["100y", "300000000000y", "61m", "1h1s", "18446744073709551615s"] {
        let err = Cli::try_parse_from(["self-heal", "svc", "--timeout", too_long]).unwrap_err().to_string();
        assert!(err.contains("--timeout"), "{too_long}: {err}");
    }
    assert_eq!(run(&["--timeout", "1h", "svc"]).timeout, Duration::from_secs(3600));
    assert!(Cli::try_parse_from(["self-heal", "svc", "--port", "0"]).is_err());
    assert!(Cli::try_parse_from(["self-heal"]).is_err());
}

#[test]
fn selectors() {
    for ok in ["app=x", "app==x,tier!=db", "!legacy", "env in (a, b),x notin (c)", "example.com/app=v", "app", "app="] {
        assert_eq!(validate_selector(ok), Ok(()), "{ok}");
    }
    for bad in ["", "app=x,", "=x", "app=a b", "app in (a", "Bad Key=x", "app=x)", "a/b/c=x", "-a=x"] {
        assert!(validate_selector(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn long_error_is_truncated_with_a_marker() {
    let big = "é".repeat(5000);
    let p = run(&["svc", &big]);
    let e = p.error.unwrap();
    let kept: String = "é".repeat(MAX_ERROR_CHARS);
    assert_eq!(e, format!("{kept}… ({} bytes truncated)", (5000 - MAX_ERROR_CHARS) * 2));
    assert_eq!(truncate_error("short", 0), "short");
}

#[test]
fn error_from_stdin_is_truncated_and_counted() {
    let cli = Cli::try_parse_from(["self-heal", "svc", "-"]).unwrap();
    let input = "x".repeat(10 * 1024 * 1024);
    let Ok(Invocation::Run(p)) = plan_with_stdin(cli, false, &mut input.as_bytes()) else { panic!() };
    let e = p.error.unwrap();
    assert!(e.starts_with(&"x".repeat(MAX_ERROR_CHARS)));
    assert!(e.ends_with(&format!("… ({} bytes truncated)", 10 * 1024 * 1024 - MAX_ERROR_CHARS)), "{}", &e[2040..]);
}

#[test]
fn completions_and_man() {
    assert!(matches!(parse(&["completions", "bash"]), Ok(Invocation::Completions(clap_complete::Shell::Bash))));
    assert!(matches!(parse(&["man"]), Ok(Invocation::Man)));
}

#[test]
fn help_ends_with_exit_codes() {
    use clap::CommandFactory;
    let help = Cli::command().render_long_help().to_string();
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("124  deadline exceeded"), "{help}");
    assert!(help.contains("SELF_HEAL_NAMESPACE"), "{help}");
}

#[test]
fn subcommand_names_after_flags_and_as_error_text() {
    assert_eq!(run(&["-n", "x", "diagnose", "svc"]).command, Command::Diagnose);
    // A free-text ERROR is not taken for a command.
    let p = run(&["svc", "connect ECONNREFUSED heal"]);
    assert_eq!((p.command, p.error.as_deref()), (Command::Heal, Some("connect ECONNREFUSED heal")));
}
