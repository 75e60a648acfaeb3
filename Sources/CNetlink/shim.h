#include <netlink/genl/genl.h>
