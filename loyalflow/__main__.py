from loyalflow.cli.app import app

app()
