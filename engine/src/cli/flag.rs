//! A pipeline input's flag: its value name (the type as the signature writes it, as `--list`
//! shows it), its parser, and its help, which says when the flag is required (clap cannot:
//! the flags are global, so `PIPELINE shell STEP` takes them too, and binding reports a
//! missing one).

use std::path::PathBuf;

use clap::{Arg, ArgAction, value_parser};

use crate::graph::ParamInfo;
use crate::input::written_as_json;

/// The flag that binds `param`.
pub(super) fn input_arg(param: &ParamInfo) -> Arg {
    let mut arg = Arg::new(param.name).long(param.flag());
    if !param.is_switch() {
        arg = arg.value_name(param.ty);
    }
    let name = param.name;
    let help = if param.is_dir {
        arg = arg.value_parser(value_parser!(PathBuf)).default_value(".");
        match param.select.describe() {
            Some(select) => format!("The folder bound to `{name}` ({select})"),
            None => format!("The folder bound to `{name}`"),
        }
    } else if param.is_file {
        arg = arg.value_parser(value_parser!(PathBuf));
        format!("The file bound to `{name}`")
    } else if param.is_secret() {
        arg = arg.value_name("SOURCE");
        format!(
            "Where the secret `{name}` comes from: `env:NAME`, `file:PATH` or `cmd:COMMAND` \
             (never the value itself)"
        )
    } else if param.is_switch() {
        arg = arg.action(ArgAction::SetTrue);
        format!("Sets `{name}` (a `bool`, false when left out)")
    } else if param.is_list() {
        arg = arg.action(ArgAction::Append).allow_negative_numbers(true);
        let json = match param.list_item() {
            Some(item) if written_as_json(item) => ", each as JSON, or all as a JSON array",
            _ => ", or all as a JSON array (for items that hold a comma)",
        };
        format!(
            "The items of `{name}` ({}), separated by commas or given by repeating the flag{json}",
            param.ty
        )
    } else {
        // `--offset -1` is a value, not a flag.
        arg = arg.allow_negative_numbers(true);
        let json = if written_as_json(param.ty) {
            ", as JSON (a unit enum variant by its name alone)"
        } else {
            ""
        };
        format!("The value of `{name}` ({}){json}", param.ty)
    };
    arg.help(if param.is_required() {
        format!("{help} [required]")
    } else {
        help
    })
}

#[cfg(test)]
mod tests {
    use super::input_arg;
    use crate::artifact::DirSelect;
    use crate::graph::ParamInfo;

    /// The value name and help of the flag of a value input of type `ty`.
    fn flag(ty: &'static str) -> (Option<String>, String) {
        let param = ParamInfo {
            name: "variants",
            ty,
            is_dir: false,
            is_file: false,
            select: DirSelect::DEFAULT,
        };
        let arg = input_arg(&param);
        let name = arg.get_value_names().map(|n| n[0].to_string());
        (
            name,
            arg.get_help().map(ToString::to_string).unwrap_or_default(),
        )
    }

    #[test]
    fn a_flag_names_its_type_as_written_and_says_when_it_is_required() {
        let (name, help) = flag("Vec<String>");
        assert_eq!(name.as_deref(), Some("Vec<String>"));
        assert_eq!(
            help,
            "The items of `variants` (Vec<String>), separated by commas or given by repeating \
             the flag, or all as a JSON array (for items that hold a comma) [required]"
        );
        assert_eq!(
            flag("Option<u32>").1,
            "The value of `variants` (Option<u32>)"
        );
        assert_eq!(
            flag("bool").1,
            "Sets `variants` (a `bool`, false when left out)"
        );
        assert_eq!(
            flag("Limits").1,
            "The value of `variants` (Limits), as JSON (a unit enum variant by its name alone) \
             [required]"
        );
        assert_eq!(
            flag("Vec<Target>").1,
            "The items of `variants` (Vec<Target>), separated by commas or given by repeating \
             the flag, each as JSON, or all as a JSON array [required]"
        );
    }
}
