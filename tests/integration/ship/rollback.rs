//! docs/rollback.md, performed: every `$ ` line of its procedure runs, in order, against
//! kube-sim (kubectl through the harness, self-heal as built), must exit as its `# exit N`
//! says (0 when it says nothing), and must print each output line the document shows
//! (`...` stands for lines left out). Then the service answers again.

use std::time::Duration;

use super::read;
use crate::util::{SelfHealExt, Sim, eventually, http_get_status};

/// One documented step: the command's words, its exit status, the output lines shown.
struct Step {
    words: Vec<String>,
    exit: i32,
    shown: Vec<String>,
}

/// The steps of the ```console block after the `<!-- procedure -->` marker.
fn procedure(doc: &str) -> Vec<Step> {
    let after = doc.split_once("<!-- procedure -->").expect("docs/rollback.md marks its procedure").1;
    let block = after.split_once("```console\n").expect("a console block").1;
    let block = block.split_once("```").expect("the block ends").0;
    let mut steps: Vec<Step> = Vec::new();
    for line in block.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            let (cmd, exit) = match cmd.split_once("# exit ") {
                Some((c, n)) => (c, n.trim().parse().expect("# exit N")),
                None => (cmd, 0),
            };
            steps.push(Step { words: cmd.split_whitespace().map(String::from).collect(), exit, shown: Vec::new() });
        } else if line.trim() != "..." && !line.trim().is_empty() {
            steps.last_mut().expect("output after a command").shown.push(line.trim().to_string());
        }
    }
    steps
}

#[test]
fn the_documented_rollback_procedure_restores_a_failed_release() {
    let steps = procedure(&read("docs/rollback.md"));
    assert!(steps.len() >= 4, "the procedure has its steps");
    assert!(steps.iter().any(|s| s.exit == 3 && s.words[0] == "self-heal"), "a heal that stops for a human");
    let sim = Sim::demo();
    sim.kubectl_ok(&["-n", "cortex-system", "rollout", "status", "deployment/sandfly-mcp-server", "--timeout=60s"]);
    let before = sim.get_json("cortex-system", "deployment/sandfly-mcp-server")["spec"]["template"].clone();

    for step in &steps {
        let args: Vec<&str> = step.words[1..].iter().map(String::as_str).collect();
        let out = match step.words[0].as_str() {
            "kubectl" => sim.kubectl(&args),
            "self-heal" => sim.self_heal().args(&args).output().unwrap(),
            other => panic!("the procedure runs only kubectl and self-heal, not {other}"),
        };
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let cmd = step.words.join(" ");
        assert_eq!(out.status.code(), Some(step.exit), "`{cmd}` exit status:\n{text}");
        if step.words[0] == "self-heal" && step.exit == 3 {
            assert!(text.contains("rollout undo"), "a heal that stops names the undo:\n{text}");
        }
        for line in &step.shown {
            assert!(text.contains(line.as_str()), "`{cmd}` does not print the documented line {line:?}:\n{text}");
        }
    }

    let after = sim.get_json("cortex-system", "deployment/sandfly-mcp-server")["spec"]["template"].clone();
    assert_eq!(
        after["spec"]["containers"][0]["image"], before["spec"]["containers"][0]["image"],
        "the old image is back"
    );
    let url = format!("{}/health", sim.service_url("cortex-system", "sandfly-mcp-server"));
    eventually("the service to answer", Duration::from_secs(20), || (http_get_status(&url) == Some(200)).then_some(()));
}
