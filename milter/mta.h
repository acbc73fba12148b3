#ifndef OG_MTA_H
#define OG_MTA_H
#endif
