using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Lrml.Data;

/// <summary>
/// Fast forward-only reader of the lines of a text file as UTF-8/Latin-1 byte spans. One buffer is reused,
/// so reading allocates nothing per line. It strips a UTF-8 byte-order mark and the CR of CRLF line ends,
/// refuses UTF-16 files, binary data (NUL bytes), absurdly long lines, CR-only (classic Mac OS) line ends, a last
/// line without its newline (a partly written or truncated file: the line cannot be told from a complete one), and a
/// file whose size changed while it was read (another program writing it); counts 1-based line numbers for
/// error messages, and hashes every byte it reads (SHA-256) so provenance costs no second pass.
/// </summary>
internal sealed class LineReader : IDisposable
{
    /// <summary>Longest accepted line (1 MiB): a longer "line" means a wrong or binary file.</summary>
    public const int DefaultMaxLineBytes = 1 << 20;

    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly IncrementalHash? _hash;
    private readonly int _maxLine;
    private byte[] _buf;
    private int _start, _end;
    private long _bufferFileOffset;      // file offset of _buf[0]
    private long _firstNul = -1;         // file offset of the first NUL byte seen, or -1
    private int _lineStart;              // index in _buf of the line last returned (for columns in messages)
    private bool _eof, _started;
    private string? _sha;

    /// <summary>File path used in error messages.</summary>
    public string Path { get; }

    /// <summary>1-based number of the line last returned (0 before the first).</summary>
    public long LineNumber { get; private set; }

    /// <summary>Bytes read from the stream so far.</summary>
    public long BytesRead { get; private set; }

    public LineReader(string path, bool computeSha256 = true, int maxLineBytes = DefaultMaxLineBytes, int bufferBytes = 1 << 20)
        : this(OpenRead(path), path, computeSha256, maxLineBytes, bufferBytes, ownsStream: true) { }

    public LineReader(Stream stream, string path, bool computeSha256 = true, int maxLineBytes = DefaultMaxLineBytes,
        int bufferBytes = 1 << 20, bool ownsStream = true)
    {
        _stream = stream;
        _ownsStream = ownsStream;
        Path = path;
        _maxLine = maxLineBytes;
        _buf = new byte[Math.Max(bufferBytes, Math.Min(maxLineBytes, 1 << 16) + 2)];
        _hash = computeSha256 ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
    }

    private static FileStream OpenRead(string path)
    {
        DatasetFiles.RefuseDirectory(path);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"Data file not found: {path}", path, e);
        }
    }

    /// <summary>An exception for the current line.</summary>
    public DataFormatException Error(string reason) => new(Path, LineNumber, reason);

    /// <summary>1-based column (byte position) of <paramref name="part"/>[<paramref name="index"/>] in the line last
    /// returned, or 0 when <paramref name="part"/> is not a slice of that line.</summary>
    public int Column(ReadOnlySpan<byte> part, int index = 0)
    {
        if (part.IsEmpty) return 0;
        nint offset = System.Runtime.CompilerServices.Unsafe.ByteOffset(ref _buf[_lineStart], ref System.Runtime.InteropServices.MemoryMarshal.GetReference(part));
        return offset >= 0 && offset < _buf.Length - _lineStart ? (int)offset + index + 1 : 0;
    }

    /// <summary>Reads the next line (without its line end). Returns false at the end of the file.
    /// The span is valid until the next call. The common case (a whole line in the buffer) is small enough
    /// to be inlined into the readers' loops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        var avail = new ReadOnlySpan<byte>(_buf, _start, _end - _start);
        int nl = avail.IndexOf((byte)'\n');
        if (nl >= 0 && _firstNul < 0 && nl <= _maxLine && _started)
        {
            line = avail[..nl];
            _lineStart = _start;
            _start += nl + 1;
            LineNumber++;
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            return true;
        }
        return TryReadLineSlow(out line);
    }

    private bool TryReadLineSlow(out ReadOnlySpan<byte> line)
    {
        if (!_started) Start();
        while (true)
        {
            var avail = _buf.AsSpan(_start, _end - _start);
            int nl = avail.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                line = Take(nl, nl + 1);
                return true;
            }
            if (_eof)
            {
                if (avail.Length == 0) { line = default; return false; }
                line = Take(avail.Length, avail.Length);
                if (!TextParse.IsBlank(line)) throw Error(UnterminatedReason);
                return true;
            }
            if (avail.Length > _maxLine)
                throw new DataFormatException(Path, LineNumber + 1, avail.IndexOf((byte)'\r') >= 0
                    ? CrOnlyReason
                    : $"line is longer than {_maxLine:N0} bytes without a line break: not a text data file of the expected format (binary or compressed?)");
            Fill();
        }
    }

    /// <summary>Why a file whose last line has no newline is refused (shared with the readers that do not use this class).</summary>
    public const string UnterminatedReason = "the file does not end with a newline, so its last line may be truncated (a partly written, " +
                                             "still growing or cut file?); if the line is complete, add the final newline";

    /// <summary>Why a file with CR-only line ends is refused (shared with the NCF readers).</summary>
    public const string CrOnlyReason = "the file uses CR-only line ends (classic Mac OS): its lines are separated by a carriage return " +
                                       "(CR, 0x0D) without a line feed; convert them to LF or CRLF line ends (e.g. tr '\\r' '\\n')";

    private ReadOnlySpan<byte> Take(int length, int consumed)
    {
        long lineOffset = _bufferFileOffset + _start;
        var line = new ReadOnlySpan<byte>(_buf, _start, length);
        _lineStart = _start;
        _start += consumed;
        LineNumber++;
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        // the first line goes through here: a CR inside it means CR-only line ends (the whole file is one "line")
        if (LineNumber == 1 && line.IndexOf((byte)'\r') >= 0) throw Error(CrOnlyReason);
        if (line.Length > _maxLine)
            throw Error($"line is longer than {_maxLine:N0} bytes: not a text data file of the expected format (binary or compressed?)");
        if (_firstNul >= 0 && _firstNul >= lineOffset && _firstNul < lineOffset + length)
            throw Error("line contains a NUL byte: this is binary data (a compressed archive or a UTF-16 file?), not a text data file");
        return line;
    }

    private void Start()
    {
        _started = true;
        Fill();
        var head = _buf.AsSpan(_start, _end - _start);
        if (head.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) _start += 3;
        else if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || head.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
            throw new DataFormatException(Path, 1, "file is UTF-16 encoded (byte-order mark FF FE / FE FF); convert it to UTF-8");
        else if (head.StartsWith((ReadOnlySpan<byte>)[0x50, 0x4B, 0x03, 0x04]))
            throw new DataFormatException(Path, 1, "file is a ZIP archive, not a text data file: unzip it first");
        else if (head.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
            throw new DataFormatException(Path, 1, "file is gzip-compressed, not a text data file: decompress it first");
    }

    private void Fill()
    {
        if (_start > 0)
        {
            int keep = _end - _start;
            Buffer.BlockCopy(_buf, _start, _buf, 0, keep);
            _bufferFileOffset += _start;
            _end = keep;
            _start = 0;
        }
        if (_end == _buf.Length)
        {
            int grown = (int)Math.Min((long)_buf.Length * 2, (long)_maxLine + 2);
            if (grown <= _buf.Length) grown = _buf.Length + 1;
            Array.Resize(ref _buf, grown);
        }
        int want = _started && _end == 0 ? 3 : 1;
        int n = _stream.ReadAtLeast(_buf.AsSpan(_end), Math.Min(want, _buf.Length - _end), throwOnEndOfStream: false);
        if (n == 0)
        {
            _eof = true;
            // a file another program appends to (or truncates) while it is read gives a mixture of two versions
            if (_stream is FileStream { CanSeek: true } fs && RandomAccess.GetLength(fs.SafeFileHandle) is long now && now != BytesRead)
                throw new DataFormatException(Path, 0,
                    $"the file changed while it was read ({BytesRead:N0} bytes read, it now has {now:N0}): another program is writing " +
                    "or truncating it; read it again once it is complete");
            return;
        }
        var chunk = new ReadOnlySpan<byte>(_buf, _end, n);
        _hash?.AppendData(chunk);
        if (_firstNul < 0)
        {
            int z = chunk.IndexOf((byte)0);
            if (z >= 0) _firstNul = _bufferFileOffset + _end + z;
        }
        _end += n;
        BytesRead += n;
    }

    /// <summary>Lower-case hex SHA-256 of the whole file; reads any unread rest of the file first.</summary>
    public string Sha256Hex()
    {
        if (_sha is not null) return _sha;
        if (_hash is null) throw new InvalidOperationException("SHA-256 was not requested for this reader.");
        if (!_started) Start();
        while (!_eof) { _start = _end; Fill(); }
        _sha = Convert.ToHexStringLower(_hash.GetHashAndReset());
        return _sha;
    }

    public void Dispose()
    {
        if (_ownsStream) _stream.Dispose();
        _hash?.Dispose();
    }
}
