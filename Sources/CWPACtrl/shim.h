#include <stddef.h>
#include <wpa_ctrl.h>
