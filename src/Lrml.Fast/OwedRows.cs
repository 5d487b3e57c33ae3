namespace Lrml.Fast;

/// <summary>
/// Replaying exact Adam (<see cref="EmbeddingEngine"/>, <see cref="LrmlFused"/>): the rows a step is about to read whose
/// state is behind the step, each listed once (users first, then items) with the step it is at, and replayed in parallel
/// blocks with the next rows prefetched. The engine supplies the prefetch and the replay of one row.
/// </summary>
internal sealed class OwedRows(Action<bool, int> prefetch, Action<bool, int, long, long> replay)
{
    /// <summary>Rows per parallel work item.</summary>
    public const int Block = 32;

    private int[] _row = [];
    private long[] _at = [];
    private int _count, _users;

    /// <summary>The step the listed rows catch up to.</summary>
    public long To { get; private set; }

    /// <summary>Work items of <see cref="Run"/> for the rows listed.</summary>
    public int Blocks => (_count + Block - 1) / Block;

    /// <summary>Starts a list of at most <paramref name="capacity"/> rows that owe steps up to <paramref name="target"/>.</summary>
    public void Begin(long target, int capacity)
    {
        if (_row.Length < capacity) { _row = new int[capacity]; _at = new long[capacity]; }
        _count = _users = 0;
        To = target;
    }

    /// <summary>Lists row <paramref name="r"/> (its state at <paramref name="at"/>[r]) when it is behind, and records it as caught up.</summary>
    public void Owe(int r, long[] at)
    {
        if (at[r] >= To) return;
        _row[_count] = r; _at[_count++] = at[r];
        at[r] = To;   // listed once, however often the batch reads it
    }

    /// <summary>The rows listed so far are users; the rest items.</summary>
    public void EndUsers() => _users = _count;

    /// <summary>Every row of [<paramref name="r0"/>, <paramref name="r1"/>) behind <see cref="To"/> replays to it (catching
    /// every row up: after <see cref="Begin"/> with capacity 0, one call per block of rows, in parallel).</summary>
    public void CatchUpRange(bool user, int r0, int r1, long[] at)
    {
        for (int r = r0; r < r1; r++)
            if (at[r] < To) { replay(user, r, at[r], To); at[r] = To; }
    }

    /// <summary>Replays the rows of work item <paramref name="item"/>.</summary>
    public void Run(int item)
    {
        int e1 = Math.Min(_count, (item + 1) * Block);
        for (int e = item * Block; e < e1; e++)
        {
            if (e + 2 < e1) prefetch(e + 2 < _users, _row[e + 2]);   // random rows, most owing one or a few steps
            replay(e < _users, _row[e], _at[e], To);
        }
    }
}
