"""A test milter on Debian's python3-milter (libmilter underneath), run
as `python3 milter_test.py PORT`: what it does at the end of a message
depends on the Subject: "edit" adds, changes and deletes headers and
replaces the body; "quarantine" asks for quarantine; "reject" answers 550 5.7.1 with its own text; "hang"
never answers; "die" exits the whole milter; anything else: continue."""
import os
import sys
import time

import Milter


class TestMilter(Milter.Base):
    def __init__(self):
        self.subject = ""

    @Milter.noreply
    def header(self, name, value):
        if name.lower() == "subject":
            self.subject = value.strip()
        return Milter.CONTINUE

    def eom(self):
        s = self.subject
        if s == "edit":
            self.addheader("X-Test-Added", "yes")
            self.chgheader("Subject", 1, "edited by the milter")
            self.chgheader("X-Remove-Me", 1, "")
            self.replacebody(b"the milter's body\r\n")
        elif s == "quarantine":
            self.quarantine("test milter quarantines")
        elif s == "reject":
            self.setreply("550", "5.7.1", "test milter says no")
            return Milter.REJECT
        elif s == "hang":
            time.sleep(120)
        elif s == "die":
            os._exit(3)
        return Milter.CONTINUE


def main():
    port = int(sys.argv[1])
    Milter.factory = TestMilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY |
                     Milter.QUARANTINE)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    Milter.runmilter("posthorn-test", f"inet:{port}@127.0.0.1", 240)


if __name__ == "__main__":
    main()
