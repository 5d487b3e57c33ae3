using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Lrml.Data;

/// <summary>
/// Assigns contiguous 0-based indices to integer raw ids in order of first appearance without allocating
/// per line: ids below 2^24 go through a direct lookup table, larger ones through a dictionary.
/// <see cref="ToIdMap"/> turns the result into an <see cref="IdMap"/> whose raw ids are the canonical decimal
/// forms of the integers.
/// </summary>
internal sealed class IntIdInterner
{
    private const long DenseLimit = 1 << 24;
    private int[] _dense = new int[1024];          // raw -> index + 1 (0 = absent)
    private Dictionary<long, int>? _sparse;
    private long[] _raw = new long[1024];

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GetOrAdd(long raw)
    {
        if ((ulong)raw < (ulong)_dense.Length)
        {
            int v = _dense[raw];
            if (v != 0) return v - 1;
        }
        return AddSlow(raw);
    }

    private int AddSlow(long raw)
    {
        if (raw >= 0 && raw < DenseLimit)
        {
            if (raw >= _dense.Length)
            {
                long size = _dense.Length;
                while (size <= raw) size *= 2;
                Array.Resize(ref _dense, (int)Math.Min(size, DenseLimit));
            }
            int v = _dense[raw];
            if (v != 0) return v - 1;
            _dense[raw] = Count + 1;
        }
        else
        {
            _sparse ??= new Dictionary<long, int>();
            if (_sparse.TryGetValue(raw, out int idx)) return idx;
            _sparse.Add(raw, Count);
        }
        if (Count == _raw.Length) Array.Resize(ref _raw, _raw.Length * 2);
        _raw[Count] = raw;
        return Count++;
    }

    /// <summary>The index of a raw id, or -1.</summary>
    public int IndexOf(long raw)
    {
        if ((ulong)raw < (ulong)_dense.Length) return _dense[raw] - 1;
        return _sparse is not null && _sparse.TryGetValue(raw, out int i) ? i : -1;
    }

    public IdMap ToIdMap()
    {
        var strings = new string[Count];
        for (int k = 0; k < Count; k++) strings[k] = _raw[k].ToString(CultureInfo.InvariantCulture);
        return new IdMap(strings);
    }
}

/// <summary>
/// Assigns indices to string raw ids (UTF-8 bytes in the file) in order of first appearance; a string is
/// allocated only for a new id (look-ups go through a span-keyed alternate lookup).
/// </summary>
internal sealed class StringIdInterner
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<string> _raw = new();

    public StringIdInterner() => _lookup = _index.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _raw.Count;

    /// <summary>Interns an id given as UTF-8 bytes (validated strictly; invalid bytes are a format error).</summary>
    public int GetOrAdd(LineReader r, ReadOnlySpan<byte> utf8, string what)
    {
        var s = TextParse.TrimSpaces(utf8);
        if (s.Length == 0) throw r.Error($"{what} is empty");
        if (!System.Text.Unicode.Utf8.IsValid(s))
            throw r.Error($"{what} \"{TextParse.Preview(s, 60)}\" is not valid UTF-8 (Latin-1/Windows-1252 bytes?); the file must be UTF-8");
        char[]? rented = null;
        Span<char> chars = s.Length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(s.Length));
        try
        {
            int n = Encoding.UTF8.GetChars(s, chars);
            var key = chars[..n];
            if (_lookup.TryGetValue(key, out int idx)) return idx;
            string str = new(key);
            idx = _raw.Count;
            _index.Add(str, idx);
            _raw.Add(str);
            return idx;
        }
        finally
        {
            if (rented is not null) ArrayPool<char>.Shared.Return(rented);
        }
    }

    public IdMap ToIdMap() => new(_raw);
}
