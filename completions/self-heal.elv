
use builtin;
use str;

set edit:completion:arg-completer[self-heal] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'self-heal'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'self-heal'= {
            cand -n 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --namespace 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --context 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)'
            cand --kubeconfig 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)'
            cand -o 'Output format [default: human on a terminal, else ndjson]'
            cand --output 'Output format [default: human on a terminal, else ndjson]'
            cand --timeout 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)'
            cand --probe 'How verification proves the service answers'
            cand --allow 'Permit an action that is off by default (repeatable; a flag only)'
            cand --selector 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)'
            cand --health-path 'Path to probe on the service, overriding the URL''s path (starts with ''/'')'
            cand --port 'Service port to probe, overriding discovery'
            cand --max-remediations 'At most this many remediations per workload per breaker window (a flag only)'
            cand --breaker-window 'Window of the remediation breaker, e.g. 10m (a flag only)'
            cand --dry-run 'Plan and send server-side dry-run requests; change nothing'
            cand -v 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand --verbose 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand -q 'Less logging on stderr (repeatable; env: a count)'
            cand --quiet 'Less logging on stderr (repeatable; env: a count)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand heal 'Diagnose, fix what is safe to fix, wait, and verify (the default)'
            cand diagnose 'Only diagnose; change nothing (exit 0: no problem found, 1: problems found)'
            cand remediate 'Diagnose and apply the fix, without the final verification'
            cand verify 'Only verify that the service has ready endpoints and answers'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Print the manual page (roff) to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'self-heal;heal'= {
            cand -n 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --namespace 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --context 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)'
            cand --kubeconfig 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)'
            cand -o 'Output format [default: human on a terminal, else ndjson]'
            cand --output 'Output format [default: human on a terminal, else ndjson]'
            cand --timeout 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)'
            cand --probe 'How verification proves the service answers'
            cand --allow 'Permit an action that is off by default (repeatable; a flag only)'
            cand --selector 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)'
            cand --health-path 'Path to probe on the service, overriding the URL''s path (starts with ''/'')'
            cand --port 'Service port to probe, overriding discovery'
            cand --max-remediations 'At most this many remediations per workload per breaker window (a flag only)'
            cand --breaker-window 'Window of the remediation breaker, e.g. 10m (a flag only)'
            cand --dry-run 'Plan and send server-side dry-run requests; change nothing'
            cand -v 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand --verbose 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand -q 'Less logging on stderr (repeatable; env: a count)'
            cand --quiet 'Less logging on stderr (repeatable; env: a count)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'self-heal;diagnose'= {
            cand -n 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --namespace 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --context 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)'
            cand --kubeconfig 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)'
            cand -o 'Output format [default: human on a terminal, else ndjson]'
            cand --output 'Output format [default: human on a terminal, else ndjson]'
            cand --timeout 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)'
            cand --probe 'How verification proves the service answers'
            cand --allow 'Permit an action that is off by default (repeatable; a flag only)'
            cand --selector 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)'
            cand --health-path 'Path to probe on the service, overriding the URL''s path (starts with ''/'')'
            cand --port 'Service port to probe, overriding discovery'
            cand --max-remediations 'At most this many remediations per workload per breaker window (a flag only)'
            cand --breaker-window 'Window of the remediation breaker, e.g. 10m (a flag only)'
            cand --dry-run 'Plan and send server-side dry-run requests; change nothing'
            cand -v 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand --verbose 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand -q 'Less logging on stderr (repeatable; env: a count)'
            cand --quiet 'Less logging on stderr (repeatable; env: a count)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'self-heal;remediate'= {
            cand -n 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --namespace 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --context 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)'
            cand --kubeconfig 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)'
            cand -o 'Output format [default: human on a terminal, else ndjson]'
            cand --output 'Output format [default: human on a terminal, else ndjson]'
            cand --timeout 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)'
            cand --probe 'How verification proves the service answers'
            cand --allow 'Permit an action that is off by default (repeatable; a flag only)'
            cand --selector 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)'
            cand --health-path 'Path to probe on the service, overriding the URL''s path (starts with ''/'')'
            cand --port 'Service port to probe, overriding discovery'
            cand --max-remediations 'At most this many remediations per workload per breaker window (a flag only)'
            cand --breaker-window 'Window of the remediation breaker, e.g. 10m (a flag only)'
            cand --dry-run 'Plan and send server-side dry-run requests; change nothing'
            cand -v 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand --verbose 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand -q 'Less logging on stderr (repeatable; env: a count)'
            cand --quiet 'Less logging on stderr (repeatable; env: a count)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'self-heal;verify'= {
            cand -n 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --namespace 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --context 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)'
            cand --kubeconfig 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)'
            cand -o 'Output format [default: human on a terminal, else ndjson]'
            cand --output 'Output format [default: human on a terminal, else ndjson]'
            cand --timeout 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)'
            cand --probe 'How verification proves the service answers'
            cand --allow 'Permit an action that is off by default (repeatable; a flag only)'
            cand --selector 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)'
            cand --health-path 'Path to probe on the service, overriding the URL''s path (starts with ''/'')'
            cand --port 'Service port to probe, overriding discovery'
            cand --max-remediations 'At most this many remediations per workload per breaker window (a flag only)'
            cand --breaker-window 'Window of the remediation breaker, e.g. 10m (a flag only)'
            cand --dry-run 'Plan and send server-side dry-run requests; change nothing'
            cand -v 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand --verbose 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand -q 'Less logging on stderr (repeatable; env: a count)'
            cand --quiet 'Less logging on stderr (repeatable; env: a count)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'self-heal;completions'= {
            cand -n 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --namespace 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --context 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)'
            cand --kubeconfig 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)'
            cand -o 'Output format [default: human on a terminal, else ndjson]'
            cand --output 'Output format [default: human on a terminal, else ndjson]'
            cand --timeout 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)'
            cand --probe 'How verification proves the service answers'
            cand --allow 'Permit an action that is off by default (repeatable; a flag only)'
            cand --selector 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)'
            cand --health-path 'Path to probe on the service, overriding the URL''s path (starts with ''/'')'
            cand --port 'Service port to probe, overriding discovery'
            cand --max-remediations 'At most this many remediations per workload per breaker window (a flag only)'
            cand --breaker-window 'Window of the remediation breaker, e.g. 10m (a flag only)'
            cand --dry-run 'Plan and send server-side dry-run requests; change nothing'
            cand -v 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand --verbose 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand -q 'Less logging on stderr (repeatable; env: a count)'
            cand --quiet 'Less logging on stderr (repeatable; env: a count)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'self-heal;man'= {
            cand -n 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --namespace 'Namespace of the service [default: from the URL host SERVICE.NS.svc..., else cortex-system]'
            cand --context 'Kubeconfig context to use (as kubectl''s --context; a flag only, never from the environment)'
            cand --kubeconfig 'Kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, then in-cluster] (a flag only: no SELF_HEAL_ variable chooses the cluster)'
            cand -o 'Output format [default: human on a terminal, else ndjson]'
            cand --output 'Output format [default: human on a terminal, else ndjson]'
            cand --timeout 'Overall deadline, e.g. 110s, 2m; at most 1h (the heal lock lasts as long)'
            cand --probe 'How verification proves the service answers'
            cand --allow 'Permit an action that is off by default (repeatable; a flag only)'
            cand --selector 'Label selector of the pods, overriding the Service''s own selector (equality only, e.g. app=x,tier=db)'
            cand --health-path 'Path to probe on the service, overriding the URL''s path (starts with ''/'')'
            cand --port 'Service port to probe, overriding discovery'
            cand --max-remediations 'At most this many remediations per workload per breaker window (a flag only)'
            cand --breaker-window 'Window of the remediation breaker, e.g. 10m (a flag only)'
            cand --dry-run 'Plan and send server-side dry-run requests; change nothing'
            cand -v 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand --verbose 'More logging on stderr (repeatable; RUST_LOG overrides; env: a count)'
            cand -q 'Less logging on stderr (repeatable; env: a count)'
            cand --quiet 'Less logging on stderr (repeatable; env: a count)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'self-heal;help'= {
            cand heal 'Diagnose, fix what is safe to fix, wait, and verify (the default)'
            cand diagnose 'Only diagnose; change nothing (exit 0: no problem found, 1: problems found)'
            cand remediate 'Diagnose and apply the fix, without the final verification'
            cand verify 'Only verify that the service has ready endpoints and answers'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Print the manual page (roff) to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'self-heal;help;heal'= {
        }
        &'self-heal;help;diagnose'= {
        }
        &'self-heal;help;remediate'= {
        }
        &'self-heal;help;verify'= {
        }
        &'self-heal;help;completions'= {
        }
        &'self-heal;help;man'= {
        }
        &'self-heal;help;help'= {
        }
    ]
    $completions[$command]
}
