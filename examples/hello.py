"""A first module for vmrun: prints where it runs and what it was given."""
import os
import platform
import sys

print(f"hello {' '.join(sys.argv[1:]) or 'world'} from {platform.system()} "
      f"{platform.release()}, python {platform.python_version()}")
print(f"running as uid {os.getuid()} in {os.getcwd()}; network interfaces: "
      f"{sorted(os.listdir('/sys/class/net'))}")
