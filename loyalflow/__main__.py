from loyalflow.cli import app

app()
