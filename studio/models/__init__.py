"""Model builders (keras.ops only, any backend): `build.build_model` picks the variant's
builder from the table in `studio.config.variants`. Models never import training."""
