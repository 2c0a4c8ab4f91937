
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'self-heal' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'self-heal'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'self-heal' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'How verification proves the service answers')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Permit an action that is off by default (repeatable; a flag only)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Path to probe on the service, overriding the URL''s path (starts with ''/'')')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Service port to probe, overriding discovery')
            [CompletionResult]::new('--max-remediations', '--max-remediations', [CompletionResultType]::ParameterName, 'At most this many remediations per workload per breaker window (a flag only)')
            [CompletionResult]::new('--breaker-window', '--breaker-window', [CompletionResultType]::ParameterName, 'Window of the remediation breaker, e.g. 10m (a flag only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and send server-side dry-run requests; change nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('heal', 'heal', [CompletionResultType]::ParameterValue, 'Diagnose, fix what is safe to fix, wait, and verify (the default)')
            [CompletionResult]::new('diagnose', 'diagnose', [CompletionResultType]::ParameterValue, 'Only diagnose; change nothing (exit 0: no problem found, 1: problems found)')
            [CompletionResult]::new('remediate', 'remediate', [CompletionResultType]::ParameterValue, 'Diagnose and apply the fix, without the final verification')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Only verify that the service has ready endpoints and answers')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the manual page (roff) to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'self-heal;heal' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'How verification proves the service answers')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Permit an action that is off by default (repeatable; a flag only)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Path to probe on the service, overriding the URL''s path (starts with ''/'')')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Service port to probe, overriding discovery')
            [CompletionResult]::new('--max-remediations', '--max-remediations', [CompletionResultType]::ParameterName, 'At most this many remediations per workload per breaker window (a flag only)')
            [CompletionResult]::new('--breaker-window', '--breaker-window', [CompletionResultType]::ParameterName, 'Window of the remediation breaker, e.g. 10m (a flag only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and send server-side dry-run requests; change nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'self-heal;diagnose' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'How verification proves the service answers')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Permit an action that is off by default (repeatable; a flag only)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Path to probe on the service, overriding the URL''s path (starts with ''/'')')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Service port to probe, overriding discovery')
            [CompletionResult]::new('--max-remediations', '--max-remediations', [CompletionResultType]::ParameterName, 'At most this many remediations per workload per breaker window (a flag only)')
            [CompletionResult]::new('--breaker-window', '--breaker-window', [CompletionResultType]::ParameterName, 'Window of the remediation breaker, e.g. 10m (a flag only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and send server-side dry-run requests; change nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'self-heal;remediate' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'How verification proves the service answers')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Permit an action that is off by default (repeatable; a flag only)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Path to probe on the service, overriding the URL''s path (starts with ''/'')')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Service port to probe, overriding discovery')
            [CompletionResult]::new('--max-remediations', '--max-remediations', [CompletionResultType]::ParameterName, 'At most this many remediations per workload per breaker window (a flag only)')
            [CompletionResult]::new('--breaker-window', '--breaker-window', [CompletionResultType]::ParameterName, 'Window of the remediation breaker, e.g. 10m (a flag only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and send server-side dry-run requests; change nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'self-heal;verify' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'How verification proves the service answers')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Permit an action that is off by default (repeatable; a flag only)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Path to probe on the service, overriding the URL''s path (starts with ''/'')')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Service port to probe, overriding discovery')
            [CompletionResult]::new('--max-remediations', '--max-remediations', [CompletionResultType]::ParameterName, 'At most this many remediations per workload per breaker window (a flag only)')
            [CompletionResult]::new('--breaker-window', '--breaker-window', [CompletionResultType]::ParameterName, 'Window of the remediation breaker, e.g. 10m (a flag only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and send server-side dry-run requests; change nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'self-heal;completions' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'How verification proves the service answers')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Permit an action that is off by default (repeatable; a flag only)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Path to probe on the service, overriding the URL''s path (starts with ''/'')')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Service port to probe, overriding discovery')
            [CompletionResult]::new('--max-remediations', '--max-remediations', [CompletionResultType]::ParameterName, 'At most this many remediations per workload per breaker window (a flag only)')
            [CompletionResult]::new('--breaker-window', '--breaker-window', [CompletionResultType]::ParameterName, 'Window of the remediation breaker, e.g. 10m (a flag only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and send server-side dry-run requests; change nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'self-heal;man' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: human on a terminal, else ndjson]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'How verification proves the service answers')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Permit an action that is off by default (repeatable; a flag only)')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Path to probe on the service, overriding the URL''s path (starts with ''/'')')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Service port to probe, overriding discovery')
            [CompletionResult]::new('--max-remediations', '--max-remediations', [CompletionResultType]::ParameterName, 'At most this many remediations per workload per breaker window (a flag only)')
            [CompletionResult]::new('--breaker-window', '--breaker-window', [CompletionResultType]::ParameterName, 'Window of the remediation breaker, e.g. 10m (a flag only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Plan and send server-side dry-run requests; change nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Less logging on stderr (repeatable; env: a count)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'self-heal;help' {
            [CompletionResult]::new('heal', 'heal', [CompletionResultType]::ParameterValue, 'Diagnose, fix what is safe to fix, wait, and verify (the default)')
            [CompletionResult]::new('diagnose', 'diagnose', [CompletionResultType]::ParameterValue, 'Only diagnose; change nothing (exit 0: no problem found, 1: problems found)')
            [CompletionResult]::new('remediate', 'remediate', [CompletionResultType]::ParameterValue, 'Diagnose and apply the fix, without the final verification')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Only verify that the service has ready endpoints and answers')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the manual page (roff) to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'self-heal;help;heal' {
            break
        }
        'self-heal;help;diagnose' {
            break
        }
        'self-heal;help;remediate' {
            break
        }
        'self-heal;help;verify' {
            break
        }
        'self-heal;help;completions' {
            break
        }
        'self-heal;help;man' {
            break
        }
        'self-heal;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
