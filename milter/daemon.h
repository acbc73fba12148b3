#ifndef OG_DAEMON_H
#define OG_DAEMON_H
#endif
