"""An aiosmtpd handler for the email tests: the first message's DATA is held (the server never
answers it) after writing `holding` into the maildir, so a test can kill the sender in the middle
of sending; later messages are stored like aiosmtpd's Mailbox stores them."""

import asyncio
import pathlib

from aiosmtpd.handlers import Mailbox


class SlowOnce(Mailbox):
    held = False

    def __init__(self, maildir):
        super().__init__(maildir)
        self.dir = pathlib.Path(maildir)

    async def handle_DATA(self, server, session, envelope):
        if not SlowOnce.held:
            SlowOnce.held = True
            (self.dir / "holding").write_text("the first message is being held\n")
            await asyncio.sleep(3600)
        return await super().handle_DATA(server, session, envelope)
