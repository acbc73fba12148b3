#ifndef OG_CALLBACKS_H
#define OG_CALLBACKS_H
#endif
