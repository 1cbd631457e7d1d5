//! Just enough C type knowledge to tell which struct an initializer or a
//! member access belongs to: a table of struct fields from the parsed
//! files, and the declared type of a variable in scope.

use std::collections::HashMap;
use tree_sitter::Node;

use super::kernel_c::text;

/// `struct name -> field -> struct type of the field` for every struct
/// defined in the parsed files.  Fields whose type is not a struct are
/// recorded with `None`.
#[derive(Default)]
pub struct StructTable {
    fields: HashMap<String, HashMap<String, Option<String>>>,
}

impl StructTable {
    pub fn add_file(&mut self, root: Node, src: &[u8]) {
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if n.kind() == "struct_specifier"
                && let (Some(name), Some(body)) =
                    (n.child_by_field_name("name"), n.child_by_field_name("body"))
            {
                let entry = self.fields.entry(text(name, src).into_owned()).or_default();
                let mut cursor = body.walk();
                for field in body.named_children(&mut cursor) {
                    if field.kind() != "field_declaration" {
                        continue;
                    }
                    let ty = field
                        .child_by_field_name("type")
                        .and_then(|t| struct_name(t, src));
                    for fname in field_names(field, src) {
                        entry.insert(fname, ty.clone());
                    }
                }
            }
            let mut cursor = n.walk();
            stack.extend(
                n.named_children(&mut cursor)
                    .filter(|c| may_define_struct(c.kind())),
            );
        }
    }

    /// Adds the structs of another table (tables are built per file in
    /// parallel, then merged).
    pub fn merge(&mut self, other: StructTable) {
        for (name, fields) in other.fields {
            self.fields.entry(name).or_default().extend(fields);
        }
    }

    /// The struct type of `field` in `struct owner`, if known.
    pub fn field_struct(&self, owner: &str, field: &str) -> Option<String> {
        self.fields.get(owner)?.get(field)?.clone()
    }
}

/// Struct definitions live at file scope, in preprocessor blocks, in
/// declarations and typedefs, and nested in other structs; never inside
/// function bodies, which are most of a file and are not walked.
fn may_define_struct(kind: &str) -> bool {
    matches!(
        kind,
        "translation_unit"
            | "preproc_if"
            | "preproc_ifdef"
            | "preproc_else"
            | "preproc_elif"
            | "linkage_specification"
            | "declaration"
            | "type_definition"
            | "struct_specifier"
            | "union_specifier"
            | "field_declaration_list"
            | "field_declaration"
    )
}

fn field_names(field: Node, src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = field.walk();
    for d in field.children_by_field_name("declarator", &mut cursor) {
        let mut d = d;
        loop {
            match d.kind() {
                "field_identifier" | "identifier" => {
                    out.push(text(d, src).into_owned());
                    break;
                }
                _ => match d.child_by_field_name("declarator") {
                    Some(inner) => d = inner,
                    None => break,
                },
            }
        }
    }
    out
}

/// `struct foo` (possibly const-qualified) → `foo`.
pub fn struct_name(ty: Node, src: &[u8]) -> Option<String> {
    (ty.kind() == "struct_specifier")
        .then(|| ty.child_by_field_name("name"))
        .flatten()
        .map(|n| text(n, src).into_owned())
}

/// The struct type of the object an initializer list initialises.
pub fn initializer_struct(list: Node, src: &[u8], table: &StructTable) -> Option<String> {
    let parent = list.parent()?;
    match parent.kind() {
        "init_declarator" => {
            let decl = parent.parent()?;
            struct_name(decl.child_by_field_name("type")?, src)
        }
        "compound_literal_expression" => {
            let ty = parent.child_by_field_name("type")?;
            let ty = ty.child_by_field_name("type").unwrap_or(ty);
            struct_name(ty, src)
        }
        "initializer_pair" => {
            let outer = parent.parent()?;
            let owner = initializer_struct(outer, src, table)?;
            let designator = parent.child_by_field_name("designator")?;
            let field = designator.named_child(0)?;
            table.field_struct(&owner, &text(field, src))
        }
        // An element of an array of structs has the array's element type.
        "initializer_list" => initializer_struct(parent, src, table),
        _ => None,
    }
}

/// The struct type of an expression: a variable or a chain of member
/// accesses, resolved through declarations in scope and the field table.
pub fn expression_struct(expr: Node, src: &[u8], table: &StructTable) -> Option<String> {
    match expr.kind() {
        "identifier" => declared_struct(&text(expr, src), expr, src),
        "field_expression" => {
            let base = expression_struct(expr.child_by_field_name("argument")?, src, table)?;
            let field = expr.child_by_field_name("field")?;
            table.field_struct(&base, &text(field, src))
        }
        "parenthesized_expression" | "pointer_expression" => expression_struct(
            expr.named_child(u32::try_from(expr.named_child_count().checked_sub(1)?).ok()?)?,
            src,
            table,
        ),
        _ => None,
    }
}

/// The struct type a variable was declared with, looking outward from
/// `at` through blocks, the function's parameters and file scope.
pub fn declared_struct(name: &str, at: Node, src: &[u8]) -> Option<String> {
    let mut scope = at.parent();
    while let Some(s) = scope {
        let found = match s.kind() {
            "compound_statement" | "translation_unit" => find_in_declarations(s, name, src),
            "function_definition" => s
                .child_by_field_name("declarator")
                .and_then(|d| find_parameter(d, name, src)),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
        scope = s.parent();
    }
    None
}

fn find_in_declarations(block: Node, name: &str, src: &[u8]) -> Option<String> {
    let mut cursor = block.walk();
    for decl in block.named_children(&mut cursor) {
        if decl.kind() != "declaration" {
            continue;
        }
        let mut c2 = decl.walk();
        for d in decl.children_by_field_name("declarator", &mut c2) {
            if declared_identifier(d, src).as_deref() == Some(name) {
                return struct_name(decl.child_by_field_name("type")?, src);
            }
        }
    }
    None
}

fn find_parameter(declarator: Node, name: &str, src: &[u8]) -> Option<String> {
    let mut d = declarator;
    while d.kind() != "function_declarator" {
        d = d.child_by_field_name("declarator")?;
    }
    let params = d.child_by_field_name("parameters")?;
    let mut cursor = params.walk();
    for p in params.named_children(&mut cursor) {
        if let Some(pd) = p.child_by_field_name("declarator")
            && declared_identifier(pd, src).as_deref() == Some(name)
        {
            return struct_name(p.child_by_field_name("type")?, src);
        }
    }
    None
}

/// The identifier a declarator declares.
pub fn declared_identifier(d: Node, src: &[u8]) -> Option<String> {
    super::kernel_c::declarator_name_of(d).map(|n| text(n, src).into_owned())
}
