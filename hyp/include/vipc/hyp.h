/* hyp.h: written by the hyp/ layer work; placeholder. */
