using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Lrml.Util;

/// <summary>
/// Change detection for files the kit reads more than once in a process. A file's stamp is its full path, length and
/// last-write time (100 ns ticks); a folder's stamp lists every file under it. A memo keyed by a stamp is re-read when the
/// stamp changes, and <see cref="Sha256"/> hashes a file again only when its stamp changed since the last call.
/// </summary>
internal static class FileStamp
{
    private static readonly ConcurrentDictionary<string, (string Stamp, string Sha256)> Hashes = new(StringComparer.Ordinal);

    /// <summary>"path|length|ticks" of a file, or "path|absent".</summary>
    public static string Of(string path)
    {
        var fi = new FileInfo(path);
        return fi.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{fi.FullName}|{fi.Length}|{fi.LastWriteTimeUtc.Ticks}")
            : fi.FullName + "|absent";
    }

    /// <summary>The stamps of every file under <paramref name="folder"/> (recursive, ordinal order), one per line; empty
    /// when the folder does not exist.</summary>
    public static string OfFolder(string folder)
    {
        if (!Directory.Exists(folder)) return "";
        var sb = new StringBuilder();
        foreach (var f in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            sb.Append(Of(f)).Append('\n');
        return sb.ToString();
    }

    /// <summary>SHA-256 (lower-case hex) of a file's bytes, computed again only when the file's stamp changed.</summary>
    public static string Sha256(string path)
    {
        string full = Path.GetFullPath(path);
        string stamp = Of(full);
        if (Hashes.TryGetValue(full, out var known) && known.Stamp == stamp) return known.Sha256;
        if (!File.Exists(full)) throw new FileNotFoundException($"File not found: {full}", full);
        using var stream = File.OpenRead(full);
        string sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        Hashes[full] = (stamp, sha);
        return sha;
    }
}
