from qtk.cli import app

app(prog_name="qtk")
