//! Checking a model specification before anything is emitted: C identifiers for the model,
//! entry, input and output names; every graph parameter among the model's parameters with
//! the same shape; initial values of the right length; no name used twice; every element
//! count the header will print (inputs, outputs, parameters, the weights file) representable
//! (`ir::size`), so a header never shows a wrapped `_LEN`.

use ir::{Graph, MemoryPlan, NodeId, Op, Shape, Tensor};

use super::AotEntry;
use crate::error::{CodegenError, Result};

/// The names of the wrappers every model exports besides its entry points.
pub(crate) const FIXED_FUNCTIONS: [&str; 5] = [
    "create",
    "destroy",
    "get_weights",
    "set_weights",
    "param_index",
];

/// A graph input or output as the C API shows it.
#[derive(Debug)]
pub(crate) struct Io {
    /// The graph's name for it.
    pub name: String,
    /// Its C identifier (the name with every other character replaced by `_`).
    pub c_name: String,
    /// Its shape.
    pub shape: Shape,
}

/// A checked entry point.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    pub name: &'a str,
    pub graph: &'a Graph,
    pub plan: &'a MemoryPlan,
    pub inputs: Vec<Io>,
    pub outputs: Vec<Io>,
    /// The model parameter index of each of the graph's parameters (in `Param` node order).
    pub param_map: Vec<usize>,
}

/// A checked model specification.
#[derive(Debug)]
pub(crate) struct Spec<'a> {
    pub name: &'a str,
    pub entries: Vec<Entry<'a>>,
    pub params: Vec<(&'a str, &'a Tensor)>,
}

fn fail<T>(what: impl Into<String>, msg: impl Into<String>) -> Result<T> {
    Err(CodegenError::Aot {
        what: what.into(),
        msg: msg.into(),
    })
}

fn is_c_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name` as a C identifier: other characters become `_`, and a leading digit gets one.
pub(crate) fn c_identifier(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        format!("_{s}")
    } else {
        s
    }
}

/// The inputs or outputs of entry `entry` with their C names; each name distinct in C and
/// each shape's element count representable (the header prints it and C code allocates it).
fn ios(entry: &str, named: Vec<(String, Shape)>) -> Result<Vec<Io>> {
    let mut out: Vec<Io> = Vec::with_capacity(named.len());
    for (name, shape) in named {
        if let Err(e) = shape.checked_numel() {
            return fail(
                format!("entry `{entry}`, input/output `{name}`"),
                e.to_string(),
            );
        }
        let c_name = c_identifier(&name);
        if c_name == "model" || out.iter().any(|io| io.c_name == c_name) {
            return fail(
                format!("entry `{entry}`"),
                format!("input/output `{name}` is `{c_name}` in C, a name already taken"),
            );
        }
        out.push(Io {
            name,
            c_name,
            shape,
        });
    }
    Ok(out)
}

/// Check `entries` and `params` of model `name`.
pub(crate) fn check<'a>(
    name: &'a str,
    entries: &[AotEntry<'a>],
    params: &'a [(&'a str, &'a Tensor)],
) -> Result<Spec<'a>> {
    if !is_c_identifier(name) {
        return fail(format!("model `{name}`"), "the name must be a C identifier");
    }
    if entries.is_empty() {
        return fail(format!("model `{name}`"), "no entry point");
    }
    check_params(params)?;
    let checked = entries
        .iter()
        .enumerate()
        .map(|(i, e)| check_entry(e, &entries[..i], params))
        .collect::<Result<Vec<_>>>()?;
    Ok(Spec {
        name,
        entries: checked,
        params: params.to_vec(),
    })
}

/// Every parameter named once, with as many initial values as its shape holds, and the
/// weights file's length (all parameters' values) representable.
fn check_params(params: &[(&str, &Tensor)]) -> Result<()> {
    let mut total: usize = 0;
    for (i, (p, t)) in params.iter().enumerate() {
        if params[..i].iter().any(|(q, _)| q == p) {
            return fail(format!("parameter `{p}`"), "given twice");
        }
        let numel = match t.shape.checked_numel() {
            Ok(n) => n,
            Err(e) => return fail(format!("parameter `{p}`"), e.to_string()),
        };
        total = match total
            .checked_add(numel)
            .filter(|&n| n <= ir::size::MAX_ELEMENTS)
        {
            Some(n) => n,
            None => {
                return fail(
                    format!("parameter `{p}`"),
                    "the weights file would hold more values than a buffer can",
                );
            }
        };
        if t.data.len() != numel {
            return fail(
                format!("parameter `{p}`"),
                format!("{} values for shape {}", t.data.len(), t.shape),
            );
        }
    }
    Ok(())
}

/// Check entry point `e` (the entries before it are `earlier`): its name, its inputs' and
/// outputs' C names, and its graph's parameters among the model's `params`.
fn check_entry<'a>(
    e: &AotEntry<'a>,
    earlier: &[AotEntry<'a>],
    params: &[(&str, &Tensor)],
) -> Result<Entry<'a>> {
    let what = format!("entry `{}`", e.name);
    if !is_c_identifier(e.name)
        || FIXED_FUNCTIONS.contains(&e.name)
        || earlier.iter().any(|f| f.name == e.name)
    {
        return fail(
            what,
            format!(
                "the name must be a C identifier, not one of {FIXED_FUNCTIONS:?}, and used once"
            ),
        );
    }
    let g = e.graph;
    let inputs = ios(
        e.name,
        g.inputs().into_iter().map(|id| leaf(g, id)).collect(),
    )?;
    let outputs = ios(
        e.name,
        g.outputs
            .iter()
            .map(|(n, id)| (n.clone(), g.shape(*id).clone()))
            .collect(),
    )?;
    if let Some(dup) = outputs
        .iter()
        .find(|o| inputs.iter().any(|i| i.c_name == o.c_name))
    {
        return fail(
            what,
            format!("output `{}` has the C name of an input", dup.name),
        );
    }
    Ok(Entry {
        name: e.name,
        graph: g,
        plan: e.plan,
        inputs,
        outputs,
        param_map: param_map(&what, g, params)?,
    })
}

/// The name and shape of leaf `id` (an input or a parameter) of `g`.
fn leaf(g: &Graph, id: NodeId) -> (String, Shape) {
    match g.op(id) {
        Op::Input { name, shape } | Op::Param { name, shape } => (name.clone(), shape.clone()),
        other => unreachable!("inputs() and params() yield leaves, got {other:?}"),
    }
}

/// The model parameter index of each of `g`'s parameters (in `Param` node order): each
/// must be among `params` with the same shape, and appear once; errors name `what`.
fn param_map(what: &str, g: &Graph, params: &[(&str, &Tensor)]) -> Result<Vec<usize>> {
    let mut param_map = Vec::new();
    for (pname, shape) in g.params().into_iter().map(|id| leaf(g, id)) {
        let Some(index) = params.iter().position(|(n, _)| *n == pname) else {
            return fail(
                what,
                format!(
                    "parameter `{pname}` {shape} has no initial value among the model's parameters"
                ),
            );
        };
        if params[index].1.shape != shape {
            return fail(
                what,
                format!(
                    "parameter `{pname}` is {shape} in the graph but {} in the weights",
                    params[index].1.shape
                ),
            );
        }
        if param_map.contains(&index) {
            return fail(
                what,
                format!("parameter `{pname}` appears twice in the graph"),
            );
        }
        param_map.push(index);
    }
    Ok(param_map)
}
