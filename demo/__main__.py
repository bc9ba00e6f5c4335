"""``python -m errbot_support_demo``: see :mod:`errbot_support_demo.commands`."""

from errbot_support_demo.commands import main

if __name__ == "__main__":
    main()
