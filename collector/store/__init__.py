"""The store: schema, engine, writer, queries, retention, migrations runner."""
