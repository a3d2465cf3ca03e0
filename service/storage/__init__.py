"""The service's storage: tables, migrations, engines, world loading and CSV import."""
