//! One way to run a role's long-running parts (servers, the worker, background loops): run
//! them together, and when one ends, say which and why, ask the others to stop, and wait for
//! them. A part that fails early (a port already taken) therefore stops the process with its
//! reason instead of leaving the others serving half a role.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;

/// A named long-running part of a role. (Not `Send`: the Temporal worker's future is not.)
pub(crate) struct Part<'a> {
    name: &'static str,
    run: Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>,
}

impl<'a> Part<'a> {
    pub(crate) fn new(
        name: &'static str,
        run: impl Future<Output = anyhow::Result<()>> + 'a,
    ) -> Self {
        Self {
            name,
            run: Box::pin(run),
        }
    }

    /// A part that runs until the process stops and cannot fail (a refresh loop).
    pub(crate) fn background(name: &'static str, run: impl Future<Output = ()> + 'a) -> Self {
        Self::new(name, async move {
            run.await;
            Ok(())
        })
    }
}

/// Runs `parts` until one ends, then stops the rest through `stop` and waits for them. The
/// first error (the part that ended first, else the first of the others) is the result.
pub(crate) async fn supervise(
    parts: Vec<Part<'_>>,
    stop: Arc<watch::Sender<bool>>,
) -> anyhow::Result<()> {
    if parts.is_empty() {
        return Ok(());
    }
    let names: Vec<&'static str> = parts.iter().map(|part| part.name).collect();
    let (ended, index, rest) =
        futures::future::select_all(parts.into_iter().map(|part| part.run)).await;
    let first = names[index];
    let stopping = *stop.borrow();
    match &ended {
        Ok(()) if stopping => tracing::info!(part = first, "stopped"),
        Ok(()) => tracing::warn!(part = first, "ended by itself; stopping the rest"),
        Err(err) => {
            tracing::error!(part = first, error = %format!("{err:#}"), "failed; stopping the rest")
        }
    }
    let _ = stop.send(true);
    let others = futures::future::join_all(rest).await;
    let others_names = names
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, name)| *name);
    let mut result = ended.map_err(|err| err.context(format!("{first} failed")));
    for (name, outcome) in others_names.zip(others) {
        if let Err(err) = outcome {
            tracing::error!(part = name, error = %format!("{err:#}"), "failed while stopping");
            if result.is_ok() {
                result = Err(err.context(format!("{name} failed")));
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_part_stops_the_others_and_names_itself() {
        let (stop, mut stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        let waiting = async move {
            let _ = stopped.wait_for(|s| *s).await;
            Ok(())
        };
        let outcome = supervise(
            vec![
                Part::new("server", waiting),
                Part::new("metrics", async { anyhow::bail!("port taken") }),
            ],
            stop.clone(),
        )
        .await;
        let message = format!("{:#}", outcome.unwrap_err());
        assert!(
            message.starts_with("metrics failed: port taken"),
            "{message}"
        );
        assert!(*stop.borrow(), "the others were asked to stop");
    }

    #[tokio::test]
    async fn a_clean_stop_is_ok() {
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        stop.send(true).unwrap();
        let mut a = stopped.clone();
        let outcome = supervise(
            vec![Part::new("a", async move {
                let _ = a.wait_for(|s| *s).await;
                Ok(())
            })],
            stop,
        )
        .await;
        assert!(outcome.is_ok());
    }
}
