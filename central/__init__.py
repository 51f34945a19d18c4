"""Reference Kiosk Catalog API service: what a library's central side must answer.

`central.server.start_in_thread` runs it for tests, the demo and benchmarks; `kiosk-central`
(central/cli.py) runs it for real. `central.faultproxy` stands between kiosk and service to
simulate a bad network.
"""
