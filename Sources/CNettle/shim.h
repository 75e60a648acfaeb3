#include <nettle/md5.h>
