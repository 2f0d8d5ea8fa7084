import gc

from wirewatch.gcpause import collector_paused


def test_the_collector_is_paused_in_the_block_and_running_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer block still has it paused after
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failing_block_still_starts_the_collector_again():
    try:
        with collector_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_objects_made_in_the_block_are_freed_by_reference_counting():
    import weakref

    class Thing:
        pass

    with collector_paused():
        thing = Thing()
        ref = weakref.ref(thing)
        del thing
    assert ref() is None
