//! The parser: text form back to a [`Graph`], rebuilding every node through [`Graph::add`].

use std::collections::HashMap;

use crate::error::{IrError, Result};
use crate::fused::{Instr, Program};
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

use super::lexer::{Tok, Token, lex};
use super::syntax::{
    AttrValue, Attrs, binary_named, checked_shape, decode, decode_loop, parse_f32, parse_usize,
    unary_named,
};
use crate::fused::FusedOp;
use crate::multi::{Loop, MultiKernel};

/// The most elements a `splat` constant may expand to (4 GiB of f32), so a short text
/// cannot ask for an allocation that aborts the process.
const MAX_SPLAT_ELEMENTS: usize = 1 << 30;

/// Parse the text form (see the [module docs](super) for the grammar and what is checked).
pub fn parse(text: &str) -> Result<Graph> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
        names: HashMap::new(),
        graph: Graph::new(),
    };
    p.graph_body()?;
    Ok(p.graph)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// Node names as written (`%x` -> `x`) to the ids they were given.
    names: HashMap<String, NodeId>,
    graph: Graph,
}

fn error(line: usize, msg: impl Into<String>) -> IrError {
    IrError::Parse {
        line,
        msg: msg.into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn line(&self) -> usize {
        self.toks[self.pos].line
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    /// An error at the current token: "expected {what}, found {token}".
    fn expected(&self, what: &str) -> IrError {
        error(
            self.line(),
            format!("expected {what}, found {}", self.peek().describe()),
        )
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let found = *self.peek() == Tok::Punct(c);
        if found {
            self.next();
        }
        found
    }

    fn punct(&mut self, c: char) -> Result<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{c}`")))
        }
    }

    fn word(&mut self, what: &str) -> Result<String> {
        match self.peek().clone() {
            Tok::Word(w) => {
                self.next();
                Ok(w)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn skip_newlines(&mut self) {
        while *self.peek() == Tok::Newline {
            self.next();
        }
    }

    fn graph_body(&mut self) -> Result<()> {
        self.skip_newlines();
        if self.word("`graph`")? != "graph" {
            return Err(error(
                self.toks[self.pos - 1].line,
                "the text must start with `graph {`",
            ));
        }
        self.punct('{')?;
        loop {
            self.skip_newlines();
            match self.peek().clone() {
                Tok::Punct('}') => {
                    self.next();
                    break;
                }
                Tok::Node(name) => self.node(name)?,
                Tok::Word(w) if w == "output" => self.output()?,
                Tok::Word(w) if w == "update" => self.update()?,
                Tok::Eof => return Err(error(self.line(), "missing `}` closing the graph")),
                _ => return Err(self.expected("a node `%n = ...`, `output`, `update` or `}`")),
            }
            if !matches!(self.peek(), Tok::Newline | Tok::Eof) {
                return Err(self.expected("end of line"));
            }
        }
        self.skip_newlines();
        if *self.peek() != Tok::Eof {
            return Err(self.expected("nothing after the graph's closing `}`"));
        }
        Ok(())
    }

    /// `%name` on the current token, resolved to the node it names.
    fn operand(&mut self) -> Result<NodeId> {
        let line = self.line();
        match self.next().tok {
            Tok::Node(name) => self.names.get(&name).copied().ok_or_else(|| {
                error(
                    line,
                    format!(
                        "unknown operand `%{name}` (operands must be defined on earlier lines)"
                    ),
                )
            }),
            other => Err(error(
                line,
                format!("expected an operand like `%3`, found {}", other.describe()),
            )),
        }
    }

    fn node(&mut self, name: String) -> Result<()> {
        let line = self.line();
        self.next();
        if self.names.contains_key(&name) {
            return Err(error(line, format!("`%{name}` is defined twice")));
        }
        self.punct('=')?;
        let op_name = self.word("an op name")?;
        let (op, operands) = match op_name.as_str() {
            "input" | "param" => {
                let leaf_name = match self.next().tok {
                    Tok::Str(s) => s,
                    other => {
                        return Err(error(
                            line,
                            format!(
                                "`{op_name}` needs a quoted name, found {}",
                                other.describe()
                            ),
                        ));
                    }
                };
                let shape = self.shape()?;
                let op = if op_name == "input" {
                    Op::Input {
                        name: leaf_name,
                        shape,
                    }
                } else {
                    Op::Param {
                        name: leaf_name,
                        shape,
                    }
                };
                (op, Vec::new())
            }
            "const" => (Op::Const(self.const_value()?), Vec::new()),
            _ => self.computed_op(&op_name, line)?,
        };
        let printed = if self.eat_punct(':') {
            Some(self.shape()?)
        } else {
            None
        };
        let id = self
            .graph
            .add(op, &operands)
            .map_err(|e| error(line, e.to_string()))?;
        if let Some(printed) = printed.filter(|s| s != self.graph.shape(id)) {
            return Err(error(
                line,
                format!(
                    "`%{name}` is written with shape {printed} but inference gives {}",
                    self.graph.shape(id)
                ),
            ));
        }
        self.names.insert(name, id);
        Ok(())
    }

    /// A computed node's op after its name: operands, attributes, then its program (or a
    /// `fused.multi`'s loops).
    fn computed_op(&mut self, op_name: &str, line: usize) -> Result<(Op, Vec<NodeId>)> {
        let mut operands = Vec::new();
        if matches!(self.peek(), Tok::Node(_)) {
            operands.push(self.operand()?);
            while self.eat_punct(',') {
                operands.push(self.operand()?);
            }
        }
        let attrs = self.attrs()?;
        if op_name == "fused.multi" {
            attrs
                .finish()
                .map_err(|e| error(line, format!("`fused.multi`: {e}")))?;
            let loops = self.loops()?;
            return Ok((Op::Fused(FusedOp::Multi(MultiKernel { loops })), operands));
        }
        let program = if *self.peek() == Tok::Punct('{') {
            Some(self.program()?)
        } else {
            None
        };
        let op = decode(op_name, attrs, program).map_err(|msg| error(line, msg))?;
        Ok((op, operands))
    }

    fn output(&mut self) -> Result<()> {
        let line = self.line();
        self.next();
        let name = match self.next().tok {
            Tok::Str(s) => s,
            other => {
                return Err(error(
                    line,
                    format!("`output` needs a quoted name, found {}", other.describe()),
                ));
            }
        };
        self.punct('=')?;
        let id = self.operand()?;
        self.graph.add_output(name, id)
    }

    fn update(&mut self) -> Result<()> {
        let line = self.line();
        self.next();
        let param = self.operand()?;
        self.punct('=')?;
        let value = self.operand()?;
        self.graph
            .add_update(param, value)
            .map_err(|e| error(line, e.to_string()))
    }

    /// A number or word, as written.
    fn atom(&mut self, what: &str) -> Result<String> {
        match self.peek().clone() {
            Tok::Num(s) | Tok::Word(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `[a, b, ...]`, each item an atom.
    fn atom_list(&mut self, what: &str) -> Result<Vec<String>> {
        self.punct('[')?;
        let mut items = Vec::new();
        if self.eat_punct(']') {
            return Ok(items);
        }
        loop {
            items.push(self.atom(what)?);
            if self.eat_punct(']') {
                return Ok(items);
            }
            self.punct(',')?;
        }
    }

    fn shape(&mut self) -> Result<Shape> {
        let line = self.line();
        if *self.peek() != Tok::Punct('[') {
            return Err(self.expected("a shape like `[2, 3]`"));
        }
        let dims = self.atom_list("a dimension")?;
        let dims = dims
            .iter()
            .map(|d| parse_usize(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(line, e))?;
        checked_shape(dims).map_err(|e| error(line, e))
    }

    /// `[shape] v`, `[shape] [v, ...]` or `[shape] splat v`.
    fn const_value(&mut self) -> Result<Tensor> {
        let line = self.line();
        let shape = self.shape()?;
        let floats = |items: &[String]| {
            items
                .iter()
                .map(|v| parse_f32(v))
                .collect::<Result<Vec<f32>, _>>()
                .map_err(|e| error(line, e))
        };
        let data = match self.peek().clone() {
            Tok::Punct('[') => floats(&self.atom_list("a float")?)?,
            Tok::Word(w) if w == "splat" => {
                self.next();
                let value = floats(&[self.atom("a float after `splat`")?])?[0];
                if shape.numel() > MAX_SPLAT_ELEMENTS {
                    return Err(error(
                        line,
                        format!(
                            "`splat` of shape {shape} is over the limit of {MAX_SPLAT_ELEMENTS} elements"
                        ),
                    ));
                }
                vec![value; shape.numel()]
            }
            _ => floats(&[self.atom("the constant's value")?])?,
        };
        Tensor::new(shape.clone(), data.clone()).ok_or_else(|| {
            error(
                line,
                format!(
                    "a constant of shape {shape} needs {} values, got {}",
                    shape.numel(),
                    data.len()
                ),
            )
        })
    }

    /// `key`, `key=atom` or `key=[atom, ...]`, repeated.
    fn attrs(&mut self) -> Result<Attrs> {
        let mut attrs = Attrs::default();
        while let Tok::Word(key) = self.peek().clone() {
            let line = self.line();
            self.next();
            let value = if !self.eat_punct('=') {
                AttrValue::Flag
            } else if *self.peek() == Tok::Punct('[') {
                AttrValue::List(self.atom_list(&format!("a value in `{key}=[...]`"))?)
            } else {
                AttrValue::Atom(self.atom(&format!("a value after `{key}=`"))?)
            };
            attrs.insert(key, value).map_err(|e| error(line, e))?;
        }
        Ok(attrs)
    }

    /// The loops of a `fused.multi`: `{`, then one `loop ATTRS { PROGRAM }` per line, then `}`.
    fn loops(&mut self) -> Result<Vec<Loop>> {
        self.punct('{')?;
        let mut loops = Vec::new();
        loop {
            self.skip_newlines();
            if self.eat_punct('}') {
                return Ok(loops);
            }
            let line = self.line();
            if self.word("`loop` or `}`")? != "loop" {
                return Err(error(line, "expected `loop` or `}` in a `fused.multi`"));
            }
            let attrs = self.attrs()?;
            let body = self.program()?;
            loops.push(decode_loop(attrs, body).map_err(|e| error(line, e))?);
        }
    }

    /// `{ r0 = in 0, r1 = relu r0, ... }`, possibly over several lines.
    fn program(&mut self) -> Result<Program> {
        self.punct('{')?;
        self.skip_newlines();
        if *self.peek() == Tok::Punct('}') {
            return Err(error(
                self.line(),
                "a program needs at least one instruction",
            ));
        }
        let mut instrs = Vec::new();
        loop {
            let line = self.line();
            let reg = self.word("a register like `r0`")?;
            if reg != format!("r{}", instrs.len()) {
                return Err(error(
                    line,
                    format!(
                        "expected register `r{}` here, found `{reg}` (registers are numbered in order)",
                        instrs.len()
                    ),
                ));
            }
            self.punct('=')?;
            let op = self.word("an instruction")?;
            let instr = self.instr(&op, instrs.len(), line)?;
            instrs.push(instr);
            self.skip_newlines();
            if self.eat_punct('}') {
                return Ok(Program { instrs });
            }
            self.punct(',')?;
            self.skip_newlines();
            if self.eat_punct('}') {
                return Ok(Program { instrs });
            }
        }
    }

    /// The body of register `defining`'s instruction after its op word.
    fn instr(&mut self, op: &str, defining: usize, line: usize) -> Result<Instr> {
        let reg = |p: &mut Parser| -> Result<usize> {
            let name = p.word("a register like `r0`")?;
            match name.strip_prefix('r').and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n < defining => Ok(n),
                Some(_) => Err(error(
                    line,
                    format!("`r{defining}` reads `{name}`, which is not defined before it"),
                )),
                None => Err(error(
                    line,
                    format!("expected a register like `r0`, found `{name}`"),
                )),
            }
        };
        Ok(match op {
            "in" => Instr::Input(
                parse_usize(&self.atom("an input index")?).map_err(|e| error(line, e))?,
            ),
            "const" => Instr::Const(parse_f32(&self.atom("a float")?).map_err(|e| error(line, e))?),
            "select" => Instr::Select(reg(self)?, reg(self)?, reg(self)?),
            _ => {
                if let Some(u) = unary_named(op) {
                    Instr::Unary(u, reg(self)?)
                } else if let Some(b) = binary_named(op) {
                    Instr::Binary(b, reg(self)?, reg(self)?)
                } else {
                    return Err(error(
                        line,
                        format!(
                            "unknown instruction `{op}` (expected `in`, `const`, `select`, a unary or a binary op)"
                        ),
                    ));
                }
            }
        })
    }
}
