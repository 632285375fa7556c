//! `switchboard setup <client>`, run as a user runs it, and what the server does with the blocks clients pass on.

use crate::helpers::serve_binary;

/// Claude Desktop's placeholders stay literal, and a bundle passes an unset optional setting as "": both must
/// leave the setting unset, not stop the server (`--config` used to take SWITCHBOARD_CONFIG="" as a path).
#[tokio::test]
async fn a_variable_a_client_leaves_empty_or_unexpanded_does_not_stop_the_server() {
    for value in ["", "${user_config.config_file}"] {
        let served = serve_binary(&[("SWITCHBOARD_CONFIG", value)]).await;
        let tools = served.client.list_all_tools().await.unwrap();
        assert_eq!(tools.len(), switchboard::server::Switchboard::catalog().len(), "SWITCHBOARD_CONFIG={value:?}");
        served.log().await;
    }
}
