
use builtin;
use str;

set edit:completion:arg-completer[orchestrator] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'orchestrator'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'orchestrator'= {
            cand --config 'Configuration file (YAML, DESIGN §2.4)'
            cand --listen 'Address to listen on (default: the config''s `listen`, else 0.0.0.0:$PORT, PORT defaults to 8000)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
