"""The pure core: task records, statuses, the transition table, the next-action policy, errors.

Nothing in this package touches files, git, the network or a database; the clock is passed in.
"""
