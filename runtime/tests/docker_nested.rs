//! A `docker_socket` step hands its identity to the tanto runs it starts, and the containers
//! those runs label with it go when the step ends, even while their owner lives on.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod docker_support;

use docker_support::{BUSYBOX, Harness, SETTINGS};
use tanto::__internal::backend::{Backend, ContainerSpec, ExecSpec, LABEL_RUN, LABEL_STEP};
use tanto::__internal::graph::StepSettings;

async fn exists(backend: &dyn Backend, id: &str) -> bool {
    let spec = ExecSpec {
        argv: vec!["true".into()],
        env: vec![],
        workdir: None,
        user: None,
        secret_env: vec![],
    };
    backend.exec(id, &spec).await.is_ok()
}

#[tokio::test]
async fn containers_labelled_with_a_steps_identity_go_when_the_step_ends() {
    let h = Harness::new().await;
    let image = h.run.resolve_image(BUSYBOX, &|_| {}).await.unwrap();
    let settings = StepSettings {
        docker_socket: true,
        ..SETTINGS
    };
    let ctx = h.ctx("parent", settings);
    let out = ctx.container().sh("echo \"$TANTO_PARENT\"").await.unwrap();
    let parent = out.stdout.trim().to_owned();
    let (run, step) = parent
        .split_once(':')
        .unwrap_or_else(|| panic!("TANTO_PARENT is `RUN:CONTAINER`, not `{parent}`"));
    assert_eq!(run, h.run.run_id);
    let (step_container, _) = h.run.containers.containers()[0].clone();
    assert_eq!(step, step_container);

    // What a nested run started from the step puts on its containers; its owner (here, this
    // test) outlives the step, so only the parent's sweep can remove them.
    let spec = |extra: Vec<(String, String)>| {
        let mut labels = vec![
            (LABEL_RUN.to_owned(), format!("{}-nested", h.run.run_id)),
            (LABEL_STEP.to_owned(), "nested".to_owned()),
        ];
        labels.extend(extra);
        labels.sort();
        ContainerSpec {
            image: image.clone(),
            labels,
            mounts: vec![],
            network: false,
            memory: None,
            millicpus: None,
        }
    };
    let nested = h
        .backend()
        .start(&spec(vec![
            ("tanto.parent.run".to_owned(), run.to_owned()),
            ("tanto.parent.step".to_owned(), step.to_owned()),
        ]))
        .await
        .unwrap();
    // Another step's nested container: the step's end must leave it to that step.
    let other = h
        .backend()
        .start(&spec(vec![
            ("tanto.parent.run".to_owned(), run.to_owned()),
            ("tanto.parent.step".to_owned(), "another-step".to_owned()),
        ]))
        .await
        .unwrap();

    ctx.close().await.unwrap();
    assert!(
        !exists(h.backend(), &nested).await,
        "a container started from inside the step outlived the step"
    );
    assert!(exists(h.backend(), &other).await);

    // The run's end sweeps what any of its steps started.
    let removed = h.run.remove_run().await.unwrap();
    assert_eq!(removed, 1, "the other step's nested container");
    assert!(!exists(h.backend(), &other).await);
    h.assert_clean().await;
}
