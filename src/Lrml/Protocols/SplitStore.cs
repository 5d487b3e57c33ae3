using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lrml.Data;
using Lrml.Util;

namespace Lrml.Protocols;

/// <summary>
/// Saves and loads a <see cref="Split"/> with its frozen candidates, so that every model of an experiment (and every
/// later re-run) sees exactly the same train / validation / test sets and sampled negatives.
/// <para>A split directory holds two files, each written atomically (<see cref="AtomicFile"/>):</para>
/// <list type="bullet">
/// <item><c>split.bin</c>: magic <c>"LRMLSPLT"</c> (8 bytes), format version (int32), payload length (int64),
/// SHA-256 of the payload (32 bytes), then the payload — little-endian: dataset, protocol (length-prefixed UTF-8),
/// seed, every part as CSR arrays (train, validation, test, optional validation/test negatives), the notes and the
/// raw user/item id maps when present.</item>
/// <item><c>split.json</c>: the same facts for humans (dataset, protocol, seed, counts, notes) and the payload's
/// SHA-256.</item>
/// </list>
/// <see cref="Load"/> checks the magic, the version, the length (a truncated file is reported as such), the SHA-256
/// and that split.json describes the same payload; any mismatch raises <see cref="DataFormatException"/>.
/// </summary>
internal static class SplitStore
{
    /// <summary>Binary file name inside a split directory.</summary>
    public const string BinaryFileName = "split.bin";
    /// <summary>Human-readable summary file name inside a split directory.</summary>
    public const string JsonFileName = "split.json";
    /// <summary>Current binary format version.</summary>
    public const int FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "LRMLSPLT"u8;
    private const int HeaderLength = 8 + 4 + 8 + 32;

    /// <summary>Writes <c>split.bin</c> then <c>split.json</c> into <paramref name="directory"/> (created if needed).
    /// Returns the payload's SHA-256 (lower-case hex).</summary>
    public static string Save(Split split, string directory)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(directory);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SplitStore writes little-endian files on little-endian machines only.");
        byte[] payload = Serialize(split);
        byte[] hash = SHA256.HashData(payload);
        string hex = Convert.ToHexStringLower(hash);
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, BinaryFileName), s =>
        {
            Span<byte> header = stackalloc byte[HeaderLength];
            Magic.CopyTo(header);
            BitConverter.TryWriteBytes(header[8..], FormatVersion);
            BitConverter.TryWriteBytes(header[12..], (long)payload.Length);
            hash.CopyTo(header[20..]);
            s.Write(header);
            s.Write(payload);
        });
        AtomicFile.WriteAllText(Path.Combine(directory, JsonFileName), DescribeJson(split, hex));
        return hex;
    }

    /// <summary>
    /// Saves <paramref name="split"/> as the folder <paramref name="directory"/> in one step: both files are written into a
    /// temporary folder beside it (<c>.&lt;name&gt;.tmp-&lt;pid&gt;-&lt;guid&gt;</c>), which is then renamed into place, so a
    /// reader finds either no folder or a complete one, never split.bin without split.json. An incomplete folder already
    /// there (from a build that was killed) is replaced, and temporary folders of killed builders are removed. Concurrent
    /// builders of one folder must hold its <see cref="FolderLock"/> (as <c>Experiment.GetSplit</c> does). Returns the
    /// payload's SHA-256.
    /// </summary>
    public static string Publish(Split split, string directory)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{full}' has no parent folder.");
        string name = Path.GetFileName(full), prefix = $".{name}.tmp-";
        if (Directory.Exists(parent))
            foreach (var stale in Directory.EnumerateDirectories(parent, prefix + "*"))
            {
                string rest = Path.GetFileName(stale)[prefix.Length..];
                int dash = rest.IndexOf('-');
                if (dash > 0 && int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && FolderLock.IsAlive(pid)) continue;
                try { Directory.Delete(stale, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        string tmp = Path.Combine(parent, $"{prefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            string hash = Save(split, tmp);
            if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
            Directory.Move(tmp, full);
            return hash;
        }
        catch
        {
            try { if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Loads a split saved by <see cref="Save"/>, verifying format, length and checksum.</summary>
    public static Split Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string bin = Path.Combine(directory, BinaryFileName), json = Path.Combine(directory, JsonFileName);
        if (!File.Exists(bin)) throw new FileNotFoundException($"No saved split in '{directory}': {BinaryFileName} is missing.", bin);
        byte[] bytes = File.ReadAllBytes(bin);
        if (bytes.Length < HeaderLength)
            throw new DataFormatException(bin, 0, $"file is truncated: {bytes.Length} bytes, shorter than the {HeaderLength}-byte header.");
        if (!bytes.AsSpan(0, 8).SequenceEqual(Magic)) throw new DataFormatException(bin, 0, "not an LRML split file (wrong magic bytes).");
        int version = BitConverter.ToInt32(bytes, 8);
        if (version != FormatVersion)
            throw new DataFormatException(bin, 0, $"split format version {version} is not supported (this kit reads version {FormatVersion}).");
        long length = BitConverter.ToInt64(bytes, 12);
        if (length != bytes.Length - HeaderLength)
            throw new DataFormatException(bin, 0, length > bytes.Length - HeaderLength
                ? $"file is truncated: the header announces a {length:N0}-byte payload but only {bytes.Length - HeaderLength:N0} bytes follow."
                : $"file has {bytes.Length - HeaderLength - length:N0} unexpected trailing bytes after the payload.");
        var payload = bytes.AsSpan(HeaderLength);
        string stored = Convert.ToHexStringLower(bytes.AsSpan(20, 32));
        string actual = Convert.ToHexStringLower(SHA256.HashData(payload));
        if (stored != actual)
            throw new DataFormatException(bin, 0, $"checksum mismatch: the payload's SHA-256 is {actual} but the file records {stored}; the file is corrupted.");
        if (!File.Exists(json)) throw new DataFormatException(json, 0, $"{JsonFileName} is missing next to {BinaryFileName}.");
        string? jsonHash;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            jsonHash = doc.RootElement.TryGetProperty("sha256", out var h) ? h.GetString() : null;
        }
        catch (JsonException ex) { throw new DataFormatException(json, 0, $"not valid JSON: {ex.Message}", ex); }
        if (jsonHash != actual)
            throw new DataFormatException(json, 0, $"checksum mismatch: {JsonFileName} records sha256 {jsonHash ?? "(none)"} but {BinaryFileName} holds {actual}; the two files do not belong together.");
        try { return Deserialize(bytes, HeaderLength); }
        catch (Exception ex) when (ex is EndOfStreamException or ArgumentException or InvalidDataException)
        {
            throw new DataFormatException(bin, 0, $"payload is inconsistent: {ex.Message}", ex);
        }
    }

    private static byte[] Serialize(Split split)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(split.Dataset); w.Write(split.Protocol); w.Write(split.Seed);
            WriteSet(w, split.Train); WriteSet(w, split.Validation); WriteSet(w, split.Test);
            WriteOptionalSet(w, split.ValidationNegatives); WriteOptionalSet(w, split.TestNegatives);
            w.Write(split.Notes.Count);
            foreach (var (k, v) in split.Notes.OrderBy(p => p.Key, StringComparer.Ordinal)) { w.Write(k); w.Write(v); }
            WriteIds(w, split.UserIds); WriteIds(w, split.ItemIds);
        }
        return ms.ToArray();
    }

    private static Split Deserialize(byte[] bytes, int offset)
    {
        using var ms = new MemoryStream(bytes, offset, bytes.Length - offset, writable: false);
        using var r = new BinaryReader(ms, Encoding.UTF8);
        string dataset = r.ReadString(), protocol = r.ReadString();
        long seed = r.ReadInt64();
        var train = ReadSet(r); var val = ReadSet(r); var test = ReadSet(r);
        var valNeg = ReadOptionalSet(r); var testNeg = ReadOptionalSet(r);
        int nn = r.ReadInt32();
        if (nn < 0) throw new InvalidDataException("negative note count.");
        var notes = new Dictionary<string, string>(nn);
        for (int k = 0; k < nn; k++) notes[r.ReadString()] = r.ReadString();
        var users = ReadIds(r); var items = ReadIds(r);
        if (ms.Position != ms.Length) throw new InvalidDataException("bytes left after the last field.");
        foreach (var s in new[] { val, test, valNeg, testNeg })
            if (s is not null && (s.NumUsers != train.NumUsers || s.NumItems != train.NumItems))
                throw new InvalidDataException("parts have different shapes.");
        if (users is not null && users.Count != train.NumUsers) throw new InvalidDataException($"user id map has {users.Count} ids for {train.NumUsers} users.");
        if (items is not null && items.Count != train.NumItems) throw new InvalidDataException($"item id map has {items.Count} ids for {train.NumItems} items.");
        return new Split
        {
            Dataset = dataset, Protocol = protocol, Seed = seed, Train = train, Validation = val, Test = test,
            ValidationNegatives = valNeg, TestNegatives = testNeg, UserIds = users, ItemIds = items, Notes = notes,
        };
    }

    private static void WriteSet(BinaryWriter w, UserItems s)
    {
        w.Write(s.NumUsers); w.Write(s.NumItems); w.Write(s.Count);
        w.Write(MemoryMarshal.AsBytes(s.Offsets.AsSpan()));
        w.Write(MemoryMarshal.AsBytes(s.Items.AsSpan()));
    }

    private static void WriteOptionalSet(BinaryWriter w, UserItems? s)
    {
        w.Write(s is not null);
        if (s is not null) WriteSet(w, s);
    }

    private static UserItems ReadSet(BinaryReader r)
    {
        int nu = r.ReadInt32(), ni = r.ReadInt32(), count = r.ReadInt32();
        if (nu < 0 || ni < 0 || count < 0) throw new InvalidDataException("negative set size.");
        long remaining = r.BaseStream.Length - r.BaseStream.Position;
        if (4L * (nu + 1 + (long)count) > remaining) throw new EndOfStreamException("set arrays run past the end of the payload.");
        var offsets = new int[nu + 1]; var items = new int[count];
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(offsets.AsSpan()));
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(items.AsSpan()));
        // Structural check: non-decreasing offsets, items in range and strictly ascending within a user.
        if (offsets[0] != 0 || offsets[nu] != count) throw new InvalidDataException("set offsets do not span its items.");
        for (int u = 0; u < nu; u++)
        {
            int a = offsets[u], b = offsets[u + 1];
            if (b < a) throw new InvalidDataException($"set offsets decrease at user {u}.");
            for (int k = a; k < b; k++)
                if ((uint)items[k] >= (uint)ni || (k > a && items[k] <= items[k - 1]))
                    throw new InvalidDataException($"items of user {u} are out of range or not strictly ascending.");
        }
        return new UserItems(nu, ni, offsets, items);
    }

    private static UserItems? ReadOptionalSet(BinaryReader r) => r.ReadBoolean() ? ReadSet(r) : null;

    private static void WriteIds(BinaryWriter w, IdMap? ids)
    {
        w.Write(ids is not null);
        if (ids is null) return;
        w.Write(ids.Count);
        foreach (var s in ids.Raw) w.Write(s);
    }

    private static IdMap? ReadIds(BinaryReader r)
    {
        if (!r.ReadBoolean()) return null;
        int n = r.ReadInt32();
        if (n < 0) throw new InvalidDataException("negative id count.");
        var raw = new string[n];
        for (int k = 0; k < n; k++) raw[k] = r.ReadString();
        return new IdMap(raw);
    }

    private static string DescribeJson(Split split, string sha256)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteString("format", "lrml-split");
            j.WriteNumber("format_version", FormatVersion);
            j.WriteString("dataset", split.Dataset);
            j.WriteString("protocol", split.Protocol);
            j.WriteNumber("seed", split.Seed);
            j.WriteString("binary", BinaryFileName);
            j.WriteString("sha256", sha256);
            j.WriteStartObject("counts");
            j.WriteNumber("users", split.NumUsers);
            j.WriteNumber("items", split.NumItems);
            j.WriteNumber("train", split.Train.Count);
            j.WriteNumber("validation", split.Validation.Count);
            j.WriteNumber("test", split.Test.Count);
            j.WriteNumber("validation_users", split.Validation.UsersWithItems());
            j.WriteNumber("test_users", split.Test.UsersWithItems());
            if (split.ValidationNegatives is not null) j.WriteNumber("validation_negatives", split.ValidationNegatives.Count);
            if (split.TestNegatives is not null) j.WriteNumber("test_negatives", split.TestNegatives.Count);
            j.WriteEndObject();
            j.WriteBoolean("has_user_ids", split.UserIds is not null);
            j.WriteBoolean("has_item_ids", split.ItemIds is not null);
            j.WriteStartObject("notes");
            foreach (var (k, v) in split.Notes.OrderBy(p => p.Key, StringComparer.Ordinal)) j.WriteString(k, v);
            j.WriteEndObject();
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    /// <summary>The SHA-256 recorded in a split directory's binary file (without reading the payload).</summary>
    public static string ReadChecksum(string directory)
    {
        string bin = Path.Combine(directory, BinaryFileName);
        using var fs = File.OpenRead(bin);
        Span<byte> header = stackalloc byte[HeaderLength];
        if (fs.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false) < HeaderLength)
            throw new DataFormatException(bin, 0, "file is truncated: shorter than its header.");
        return Convert.ToHexStringLower(header[20..]);
    }
}
