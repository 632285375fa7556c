//! The two flows of the brief as MCP prompts: listed with their arguments, filled in with a checked argument, and
//! naming only tools the server serves.

use crate::helpers::{config, connect};
use rmcp::model::GetPromptRequestParams;
use switchboard::server::Switchboard;

fn params(name: &str, args: serde_json::Value) -> GetPromptRequestParams {
    let mut p = GetPromptRequestParams::new(name);
    p.arguments = args.as_object().cloned();
    p
}

#[tokio::test]
async fn both_flows_are_prompts_that_name_only_served_tools() {
    let client = connect(config(None, None)).await;
    let listed = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["reply_to_whatsapp", "collect_overdue_invoice"]);
    assert!(listed.iter().all(|p| p.arguments.as_ref().is_some_and(|a| a[0].required == Some(true))));
    let tools: Vec<String> = Switchboard::catalog().into_iter().map(|t| t.name.to_string()).collect();
    for (name, args, mentions) in [
        ("reply_to_whatsapp", serde_json::json!({"phone": "+91 98200 12345"}), "+919820012345"),
        (
            "collect_overdue_invoice",
            serde_json::json!({"email": "asha.rao@kaveri-foods.example"}),
            "asha.rao@kaveri-foods.example",
        ),
    ] {
        let prompt = client.get_prompt(params(name, args)).await.unwrap();
        let text = serde_json::to_value(&prompt.messages[0].content).unwrap()["text"].as_str().unwrap().to_string();
        assert!(text.contains(mentions), "{text}");
        let called: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .filter(|w| {
                w.contains('_')
                    && (w.starts_with("get_")
                        || w.starts_with("list_")
                        || w.starts_with("find_")
                        || w.starts_with("create_")
                        || w.starts_with("send_")
                        || w.starts_with("wait_"))
            })
            .collect();
        assert!(called.len() >= 3, "{called:?}");
        for tool in called {
            assert!(tools.iter().any(|t| t == tool), "{name} names {tool}, which is not served");
        }
    }
}

#[tokio::test]
async fn a_missing_or_bad_argument_or_an_unknown_prompt_is_an_invalid_params_error() {
    let client = connect(config(None, None)).await;
    for (name, args, says) in [
        ("reply_to_whatsapp", serde_json::json!({}), "phone"),
        ("reply_to_whatsapp", serde_json::json!({"phone": "call me"}), "phone"),
        ("collect_overdue_invoice", serde_json::json!({"email": "not-an-address"}), "email"),
        ("nope", serde_json::json!({}), "reply_to_whatsapp"),
    ] {
        let err = client.get_prompt(params(name, args)).await.unwrap_err().to_string();
        assert!(err.contains(says), "{name}: {err}");
    }
}
