/* test_alloc_frame_reuse.c: white-box: the block of the frame freed last is kept for the next frame
 * (ksa_allocator.reuse) and only the others go through the lookaside list, newest first; close gives
 * the kept block back. Left out of API seam builds, like test_alloc_create_name.c. */
#include "alloc_fixture.h"
#include "../allocator/ksa_internal.h"

typedef struct {
    alloc_fx fx;
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file;
    ksa_allocator *a;
    KIRQL old;
} reuse_fx;

static void reuse_open(reuse_fx *r)
{
    fx_open(&r->fx, NULL, NULL); /* 4 frames of 256 bytes, 64-byte aligned, nonpaged: list frames */
    fx_function_table(r->fx.alloc, &r->t);
    r->file = km_handle_to_file(r->fx.alloc);
    ASSERT_TRUE(r->file != NULL);
    r->a = KSA_FROM_FILE(r->file);
    ASSERT_TRUE(r->a->list_frames && r->a->reuse == NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &r->old);
}

static PVOID reuse_allocate(reuse_fx *r)
{
    PVOID frame = NULL;
    EXPECT_STATUS(r->t.AllocateFrame(r->file, &frame), STATUS_SUCCESS);
    return frame;
}

KTEST(alloc_frame_reuse, last_freed_frame_skips_the_lookaside_list)
{
    reuse_fx r;
    reuse_open(&r);
    const GENERAL_LOOKASIDE *list = &r.a->lookaside.nonpaged.L;
    PVOID f0 = reuse_allocate(&r);
    EXPECT_EQ(list->TotalAllocates, 1);
    r.t.FreeFrame(r.file, f0);
    EXPECT_TRUE(r.a->reuse != NULL && r.a->reuse->frame == f0);
    EXPECT_EQ(list->TotalFrees, 0); /* kept, not freed to the list */
    PVOID f1 = reuse_allocate(&r);
    EXPECT_TRUE(f1 == f0);
    EXPECT_TRUE(r.a->reuse == NULL);
    EXPECT_EQ(list->TotalAllocates, 1); /* taken back without the list */
    KeLowerIrql(r.old);
    EXPECT_EQ(fx_allocated_frames(r.fx.alloc), 1);
    KeRaiseIrql(DISPATCH_LEVEL, &r.old);
    r.t.FreeFrame(r.file, f1);
    KeLowerIrql(r.old);
    EXPECT_EQ(fx_allocated_frames(r.fx.alloc), 0);
    fx_close_all(&r.fx); /* the kept block goes back to the list before it is deleted: no pool leak */
}

KTEST(alloc_frame_reuse, the_others_go_through_the_list_newest_first)
{
    reuse_fx r;
    reuse_open(&r);
    const GENERAL_LOOKASIDE *list = &r.a->lookaside.nonpaged.L;
    PVOID f[3] = { reuse_allocate(&r), reuse_allocate(&r), reuse_allocate(&r) };
    EXPECT_EQ(list->TotalAllocates, 3);
    for (int i = 0; i < 3; i++)
        r.t.FreeFrame(r.file, f[i]);
    EXPECT_EQ(list->TotalFrees, 2); /* f[0] and f[1]: each displaced by the next free */
    EXPECT_TRUE(r.a->reuse != NULL && r.a->reuse->frame == f[2]);
    EXPECT_TRUE(reuse_allocate(&r) == f[2]); /* the kept block */
    EXPECT_TRUE(reuse_allocate(&r) == f[1]); /* then the list, newest first */
    EXPECT_TRUE(reuse_allocate(&r) == f[0]);
    EXPECT_EQ(list->TotalAllocates, 5);
    KeLowerIrql(r.old);
    EXPECT_EQ(fx_allocated_frames(r.fx.alloc), 3);
    fx_close_all(&r.fx); /* outstanding frames reclaimed (decisions Q15), nothing kept: no leak */
}

KTEST(alloc_frame_reuse, method_free_keeps_the_block_too)
{
    reuse_fx r;
    reuse_open(&r);
    KeLowerIrql(r.old);
    PVOID f0, f1;
    ASSERT_STATUS(fx_alloc(r.fx.alloc, &f0), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(r.fx.alloc, f0), STATUS_SUCCESS);
    EXPECT_TRUE(r.a->reuse != NULL && r.a->reuse->frame == f0);
    EXPECT_STATUS(fx_alloc(r.fx.alloc, &f1), STATUS_SUCCESS);
    EXPECT_TRUE(f1 == f0 && r.a->reuse == NULL);
    EXPECT_EQ(r.a->lookaside.nonpaged.L.TotalAllocates, 1);
    fx_close_all(&r.fx);
}
