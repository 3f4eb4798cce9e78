"""An aiosmtpd handler for the email tests that refuses every message for good (550)."""


class Refuse:
    async def handle_DATA(self, server, session, envelope):
        return "550 5.7.1 Message rejected by policy"

    @classmethod
    def from_cli(cls, parser, *args):
        return cls()
