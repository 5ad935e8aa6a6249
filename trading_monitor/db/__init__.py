"""The PostgreSQL layer: schema registry, migrations, named queries and TradingDB."""
