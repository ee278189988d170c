"""
echohub's benchmark harness: echohub side by side with the servers people
would pick instead, measured by one compiled load generator.

Run it with C{make bench} (or C{python -m benchmarks --help}).  Every scenario
starts each server afresh, runs the servers interleaved (A B C A B C ...) so
that a change in machine load hits them all alike, and reports medians with
their range, each peer's ratio to echohub, the server's CPU time and peak
memory, and the load generator's own CPU share: a client near 100 % means the
figure measures the client, not the server.
"""
