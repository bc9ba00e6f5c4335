"""A test bot that is gone leaves no thread pool, and no open file, behind."""

import gc
import logging
import weakref

from errbot.bootstrap import setup_bot

from tests.errbot_pools import open_files, pools_of, release_pools_of_gone_bots


class Config:
    BOT_ASYNC = True
    BOT_ASYNC_POOLSIZE = 4
    BOT_PREFIX = "!"
    BOT_ADMINS = ("admin",)
    BOT_LOG_LEVEL = logging.INFO
    BOT_LOG_FILE = None
    BOT_EXTRA_PLUGIN_DIR = None
    BOT_EXTRA_BACKEND_DIR = None
    STORAGE = "Memory"
    CORE_PLUGINS = ()
    CHATROOM_PRESENCE = ()


def test_the_pools_of_a_bot_that_is_gone_are_stopped_and_their_files_closed(tmp_path):
    Config.BOT_DATA_DIR = str(tmp_path)

    def start_and_stop() -> tuple[weakref.ref, list]:
        bot = setup_bot("Test", logging.getLogger("errbot"), Config)
        pools = pools_of(bot)
        assert len(pools) == 2  # the command pool and the flow executor's
        bot.shutdown()
        return weakref.ref(bot), pools

    gc.collect()  # bots of earlier tests, gone but not yet collected
    release_pools_of_gone_bots()
    before = open_files()
    started = [start_and_stop() for _ in range(5)]
    assert all(pool._state == "RUN" for _, pools in started for pool in pools)
    gc.collect()
    # Bots of other tests (held by threads still ending) may go at the same time as these five.
    assert release_pools_of_gone_bots() >= 5
    assert all(bot() is None for bot, _ in started)
    pools = [pool for _, bot_pools in started for pool in bot_pools]
    del started
    assert all(pool._state != "RUN" for pool in pools)
    del pools
    gc.collect()
    assert open_files() <= before
