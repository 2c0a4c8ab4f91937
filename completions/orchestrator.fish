complete -c orchestrator -l config -d 'Configuration file (YAML, DESIGN §2.4)' -r -F
complete -c orchestrator -l listen -d 'Address to listen on (default: the config\'s `listen`, else 0.0.0.0:$PORT, PORT defaults to 8000)' -r
complete -c orchestrator -s h -l help -d 'Print help'
complete -c orchestrator -s V -l version -d 'Print version'
