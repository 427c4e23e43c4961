"""Pure metric functions: LazyFrame in, LazyFrame out, keyword-only parameters, ``as_of`` passed in."""
