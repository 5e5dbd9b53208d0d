//! Pure renderers over `io::Write`: the plan as Terraform-style text and as JSON.
