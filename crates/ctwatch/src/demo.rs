pub async fn run_demo(_dir: Option<std::path::PathBuf>, _keep: bool) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("demo: not yet")
}
