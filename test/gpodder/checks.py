"""The checks the real-client scripts report: one line per check, a summary, an exit code."""
import sys
import traceback


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name, condition, detail=''):
        if condition:
            self.passed += 1
            print('ok - %s' % name)
        else:
            self.failed.append(name)
            print('FAILED - %s %s' % (name, detail))
        sys.stdout.flush()
        return condition

    def raises(self, name, exception, call):
        try:
            call()
        except exception:
            return self.check(name, True)
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            return self.check(name, False, 'raised %r instead of %s' % (error, exception.__name__))
        return self.check(name, False, 'raised nothing, expected %s' % exception.__name__)

    def summary(self):
        """The last line the mocha side reads, and the exit code."""
        print('%d checks passed, %d failed%s' % (self.passed, len(self.failed),
                                                (': ' + '; '.join(self.failed)) if self.failed else ''))
        return 1 if self.failed else 0


def run_main(main):
    """Runs a script's `main(argv)` as its exit code; any exception is a failed run, with its trace."""
    try:
        sys.exit(main(sys.argv))
    except Exception as error:  # noqa: BLE001 - reported as a failed run
        traceback.print_exc()
        print('FAILED - unexpected %r' % (error,))
        sys.exit(1)
