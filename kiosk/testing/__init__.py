"""Tools that prove the kiosk's promises on a real machine (crash consistency, fault injection).

They live in the package, not in tests/, because the benchmarks and technicians use them too.
"""
