"""The embedded default's broker: Kombu's filesystem transport, with messages that appear whole.

Kombu's `_put` creates the message file under its final name and then writes it, while `_get` takes any
file with that name without the writer's lock: a consumer that lists the folder in between reads an empty
file, and the JSONDecodeError it raises stops the worker's consumer for good (celery/kombu#1551). Here a
message is written under a name no consumer looks for, then renamed into place: a rename within a folder
is atomic on POSIX, so a consumer finds the whole message or nothing.
"""

import os
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # Kombu names a message `<ms>_<uuid>.<queue>.msg`, and a consumer takes any name containing
        # `.<queue>.msg`: the partial file's name must not.
        name = f"{int(filesystem.monotonic() * 1000)}_{uuid.uuid4()}.{queue}"
        final = os.path.join(self.data_folder_out, f"{name}.msg")
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
