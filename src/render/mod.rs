//! Pure renderers over `io::Write`: the plan as Terraform-style text and as JSON, both from the
//! same `Plan` value so they never disagree.

pub mod json;
pub mod text;

#[cfg(test)]
mod tests;
