"""A plugin command that acts on a room, as a third-party plugin's could."""

from errbot import BotPlugin, botcmd


class RoomOps(BotPlugin):
    @botcmd
    def channel_drop(self, msg, args):
        """Leave the room named in ``args``."""
        self.query_room(args.strip()).leave()
        return f"Dropped {args.strip()}."
