//! Any argument can be passed by `&`: a list input given to a step and then looped over, a
//! value, a folder, a step's output and a const, each the same argument as without it.
use tanto::__internal::graph::{Arg, InputValues, Plan};
use tanto::prelude::*;

const LEVEL: &str = "deny";

#[step]
async fn count(_ctx: &Ctx, versions: Vec<String>) -> Result<u64> {
    Ok(versions.len() as u64)
}

#[step]
async fn check(_ctx: &Ctx, src: Dir, version: String, note: String, level: String) -> Result<()> {
    let _ = (src, version, note, level);
    Ok(())
}

#[step]
async fn report(_ctx: &Ctx, counted: u64, again: u64) -> Result<()> {
    let _ = (counted, again);
    Ok(())
}

#[pipeline]
fn ci(src: Dir, versions: Vec<String>, note: String) {
    let counted = count(&versions);
    for version in &versions {
        check(&src, version, &note, &LEVEL);
    }
    report(&counted, counted);
}

fn main() {
    let values: InputValues = [("versions".to_owned(), serde_json::json!(["1.80", "1.81"]))]
        .into_iter()
        .collect();
    let plan = Plan::with::<ci>(&values).unwrap();
    let labels: Vec<&str> = plan.steps().map(|(n, _)| &*n.label).collect();
    assert_eq!(labels, ["count", "check[1.80]", "check[1.81]", "report"]);
    assert_eq!(
        plan.find("count").unwrap().args,
        [Arg::Literal(serde_json::json!(["1.80", "1.81"]))]
    );
    let input = |name: &str| plan.find(name).unwrap().id;
    let check = &plan.find("check[1.81]").unwrap().args;
    assert_eq!(check[0], Arg::Handle { node: input("src"), part: 0 });
    assert_eq!(check[1], Arg::Literal(serde_json::json!("1.81")));
    assert_eq!(check[2], Arg::Handle { node: input("note"), part: 0 });
    assert_eq!(check[3], Arg::Literal(serde_json::json!("deny")));
    let counted = Arg::Handle { node: input("count"), part: 0 };
    assert_eq!(plan.find("report").unwrap().args, [counted.clone(), counted]);
}
