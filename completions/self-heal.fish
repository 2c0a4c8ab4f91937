# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_self_heal_global_optspecs
    string join \n n/namespace= context= kubeconfig= o/output= dry-run timeout= probe= allow= v/verbose q/quiet selector= health-path= port= max-remediations= breaker-window= h/help V/version
end

function __fish_self_heal_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_self_heal_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_self_heal_using_subcommand
    set -l cmd (__fish_self_heal_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c self-heal -n "__fish_self_heal_needs_command" -s n -l namespace -d 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l context -d 'Kubeconfig context to use (as kubectl\'s --context; a flag only, never from the environment)' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l kubeconfig -d 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)' -r -F
complete -c self-heal -n "__fish_self_heal_needs_command" -s o -l output -d 'Output format [default: human on a terminal, else ndjson]' -r -f -a "ndjson\t''
human\t''
legacy\t''"
complete -c self-heal -n "__fish_self_heal_needs_command" -l timeout -d 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l probe -d 'How verification proves the service answers' -r -f -a "http\t''
mcp\t''
tcp\t''"
complete -c self-heal -n "__fish_self_heal_needs_command" -l allow -d 'Permit an action that is off by default (repeatable; a flag only)' -r -f -a "rollback\t'`kubectl rollout undo` when the newest revision cannot pull its image'"
complete -c self-heal -n "__fish_self_heal_needs_command" -l selector -d 'Label selector of the pods, overriding the Service\'s own selector (equality only, e.g. app=x,tier=db)' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l health-path -d 'Path to probe on the service, overriding the URL\'s path (starts with \'/\')' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l port -d 'Service port to probe, overriding discovery' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l max-remediations -d 'At most this many remediations per workload per breaker window (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l breaker-window -d 'Window of the remediation breaker, e.g. 10m (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_needs_command" -l dry-run -d 'Plan and send server-side dry-run requests; change nothing'
complete -c self-heal -n "__fish_self_heal_needs_command" -s v -l verbose -d 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
complete -c self-heal -n "__fish_self_heal_needs_command" -s q -l quiet -d 'Less logging on stderr (repeatable; env: a count)'
complete -c self-heal -n "__fish_self_heal_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c self-heal -n "__fish_self_heal_needs_command" -s V -l version -d 'Print version'
complete -c self-heal -n "__fish_self_heal_needs_command" -a "heal" -d 'Diagnose, fix what is safe to fix, wait, and verify (the default)'
complete -c self-heal -n "__fish_self_heal_needs_command" -a "diagnose" -d 'Only diagnose; change nothing (exit 0: no problem found, 1: problems found)'
complete -c self-heal -n "__fish_self_heal_needs_command" -a "remediate" -d 'Diagnose and apply the fix, without the final verification'
complete -c self-heal -n "__fish_self_heal_needs_command" -a "verify" -d 'Only verify that the service has ready endpoints and answers'
complete -c self-heal -n "__fish_self_heal_needs_command" -a "completions" -d 'Print a shell completion script to stdout'
complete -c self-heal -n "__fish_self_heal_needs_command" -a "man" -d 'Print the manual page (roff) to stdout'
complete -c self-heal -n "__fish_self_heal_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -s n -l namespace -d 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l context -d 'Kubeconfig context to use (as kubectl\'s --context; a flag only, never from the environment)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l kubeconfig -d 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)' -r -F
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -s o -l output -d 'Output format [default: human on a terminal, else ndjson]' -r -f -a "ndjson\t''
human\t''
legacy\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l timeout -d 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l probe -d 'How verification proves the service answers' -r -f -a "http\t''
mcp\t''
tcp\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l allow -d 'Permit an action that is off by default (repeatable; a flag only)' -r -f -a "rollback\t'`kubectl rollout undo` when the newest revision cannot pull its image'"
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l selector -d 'Label selector of the pods, overriding the Service\'s own selector (equality only, e.g. app=x,tier=db)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l health-path -d 'Path to probe on the service, overriding the URL\'s path (starts with \'/\')' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l port -d 'Service port to probe, overriding discovery' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l max-remediations -d 'At most this many remediations per workload per breaker window (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l breaker-window -d 'Window of the remediation breaker, e.g. 10m (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -l dry-run -d 'Plan and send server-side dry-run requests; change nothing'
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -s v -l verbose -d 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -s q -l quiet -d 'Less logging on stderr (repeatable; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand heal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -s n -l namespace -d 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l context -d 'Kubeconfig context to use (as kubectl\'s --context; a flag only, never from the environment)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l kubeconfig -d 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)' -r -F
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -s o -l output -d 'Output format [default: human on a terminal, else ndjson]' -r -f -a "ndjson\t''
human\t''
legacy\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l timeout -d 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l probe -d 'How verification proves the service answers' -r -f -a "http\t''
mcp\t''
tcp\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l allow -d 'Permit an action that is off by default (repeatable; a flag only)' -r -f -a "rollback\t'`kubectl rollout undo` when the newest revision cannot pull its image'"
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l selector -d 'Label selector of the pods, overriding the Service\'s own selector (equality only, e.g. app=x,tier=db)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l health-path -d 'Path to probe on the service, overriding the URL\'s path (starts with \'/\')' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l port -d 'Service port to probe, overriding discovery' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l max-remediations -d 'At most this many remediations per workload per breaker window (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l breaker-window -d 'Window of the remediation breaker, e.g. 10m (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -l dry-run -d 'Plan and send server-side dry-run requests; change nothing'
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -s v -l verbose -d 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -s q -l quiet -d 'Less logging on stderr (repeatable; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand diagnose" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -s n -l namespace -d 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l context -d 'Kubeconfig context to use (as kubectl\'s --context; a flag only, never from the environment)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l kubeconfig -d 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)' -r -F
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -s o -l output -d 'Output format [default: human on a terminal, else ndjson]' -r -f -a "ndjson\t''
human\t''
legacy\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l timeout -d 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l probe -d 'How verification proves the service answers' -r -f -a "http\t''
mcp\t''
tcp\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l allow -d 'Permit an action that is off by default (repeatable; a flag only)' -r -f -a "rollback\t'`kubectl rollout undo` when the newest revision cannot pull its image'"
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l selector -d 'Label selector of the pods, overriding the Service\'s own selector (equality only, e.g. app=x,tier=db)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l health-path -d 'Path to probe on the service, overriding the URL\'s path (starts with \'/\')' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l port -d 'Service port to probe, overriding discovery' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l max-remediations -d 'At most this many remediations per workload per breaker window (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l breaker-window -d 'Window of the remediation breaker, e.g. 10m (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -l dry-run -d 'Plan and send server-side dry-run requests; change nothing'
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -s v -l verbose -d 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -s q -l quiet -d 'Less logging on stderr (repeatable; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand remediate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -s n -l namespace -d 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l context -d 'Kubeconfig context to use (as kubectl\'s --context; a flag only, never from the environment)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l kubeconfig -d 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)' -r -F
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -s o -l output -d 'Output format [default: human on a terminal, else ndjson]' -r -f -a "ndjson\t''
human\t''
legacy\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l timeout -d 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l probe -d 'How verification proves the service answers' -r -f -a "http\t''
mcp\t''
tcp\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l allow -d 'Permit an action that is off by default (repeatable; a flag only)' -r -f -a "rollback\t'`kubectl rollout undo` when the newest revision cannot pull its image'"
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l selector -d 'Label selector of the pods, overriding the Service\'s own selector (equality only, e.g. app=x,tier=db)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l health-path -d 'Path to probe on the service, overriding the URL\'s path (starts with \'/\')' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l port -d 'Service port to probe, overriding discovery' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l max-remediations -d 'At most this many remediations per workload per breaker window (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l breaker-window -d 'Window of the remediation breaker, e.g. 10m (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -l dry-run -d 'Plan and send server-side dry-run requests; change nothing'
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -s v -l verbose -d 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -s q -l quiet -d 'Less logging on stderr (repeatable; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -s n -l namespace -d 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l context -d 'Kubeconfig context to use (as kubectl\'s --context; a flag only, never from the environment)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l kubeconfig -d 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)' -r -F
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -s o -l output -d 'Output format [default: human on a terminal, else ndjson]' -r -f -a "ndjson\t''
human\t''
legacy\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l timeout -d 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l probe -d 'How verification proves the service answers' -r -f -a "http\t''
mcp\t''
tcp\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l allow -d 'Permit an action that is off by default (repeatable; a flag only)' -r -f -a "rollback\t'`kubectl rollout undo` when the newest revision cannot pull its image'"
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l selector -d 'Label selector of the pods, overriding the Service\'s own selector (equality only, e.g. app=x,tier=db)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l health-path -d 'Path to probe on the service, overriding the URL\'s path (starts with \'/\')' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l port -d 'Service port to probe, overriding discovery' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l max-remediations -d 'At most this many remediations per workload per breaker window (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l breaker-window -d 'Window of the remediation breaker, e.g. 10m (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -l dry-run -d 'Plan and send server-side dry-run requests; change nothing'
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -s v -l verbose -d 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -s q -l quiet -d 'Less logging on stderr (repeatable; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -s n -l namespace -d 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l context -d 'Kubeconfig context to use (as kubectl\'s --context; a flag only, never from the environment)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l kubeconfig -d 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)' -r -F
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -s o -l output -d 'Output format [default: human on a terminal, else ndjson]' -r -f -a "ndjson\t''
human\t''
legacy\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l timeout -d 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l probe -d 'How verification proves the service answers' -r -f -a "http\t''
mcp\t''
tcp\t''"
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l allow -d 'Permit an action that is off by default (repeatable; a flag only)' -r -f -a "rollback\t'`kubectl rollout undo` when the newest revision cannot pull its image'"
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l selector -d 'Label selector of the pods, overriding the Service\'s own selector (equality only, e.g. app=x,tier=db)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l health-path -d 'Path to probe on the service, overriding the URL\'s path (starts with \'/\')' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l port -d 'Service port to probe, overriding discovery' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l max-remediations -d 'At most this many remediations per workload per breaker window (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l breaker-window -d 'Window of the remediation breaker, e.g. 10m (a flag only)' -r
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -l dry-run -d 'Plan and send server-side dry-run requests; change nothing'
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -s v -l verbose -d 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -s q -l quiet -d 'Less logging on stderr (repeatable; env: a count)'
complete -c self-heal -n "__fish_self_heal_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c self-heal -n "__fish_self_heal_using_subcommand help; and not __fish_seen_subcommand_from heal diagnose remediate verify completions man help" -f -a "heal" -d 'Diagnose, fix what is safe to fix, wait, and verify (the default)'
complete -c self-heal -n "__fish_self_heal_using_subcommand help; and not __fish_seen_subcommand_from heal diagnose remediate verify completions man help" -f -a "diagnose" -d 'Only diagnose; change nothing (exit 0: no problem found, 1: problems found)'
complete -c self-heal -n "__fish_self_heal_using_subcommand help; and not __fish_seen_subcommand_from heal diagnose remediate verify completions man help" -f -a "remediate" -d 'Diagnose and apply the fix, without the final verification'
complete -c self-heal -n "__fish_self_heal_using_subcommand help; and not __fish_seen_subcommand_from heal diagnose remediate verify completions man help" -f -a "verify" -d 'Only verify that the service has ready endpoints and answers'
complete -c self-heal -n "__fish_self_heal_using_subcommand help; and not __fish_seen_subcommand_from heal diagnose remediate verify completions man help" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c self-heal -n "__fish_self_heal_using_subcommand help; and not __fish_seen_subcommand_from heal diagnose remediate verify completions man help" -f -a "man" -d 'Print the manual page (roff) to stdout'
complete -c self-heal -n "__fish_self_heal_using_subcommand help; and not __fish_seen_subcommand_from heal diagnose remediate verify completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
